// Issue 13's PKI guard, through the real Terraform: a synth that made a new CA (the PKI directory
// lost, or never there on this machine) cannot deploy over the cluster it does not belong to.
import { readFileSync, renameSync, rmSync } from "node:fs";
import { readLabState } from "../../lib/lab/state";
import { describeCertificate } from "../../lib/pki/certificate";
import { join } from "node:path";
import { memberList, SEED, useSeedLab } from "./real-lab";

const LAB = "realcapin";
const seed = useSeedLab(LAB);

const fingerprint = (dir: string) => describeCertificate(readFileSync(join(dir, "ca.pem"), "utf8")).fingerprintSha256;

test("GIVEN a deployed cluster WHEN a synth with a new CA is deployed THEN the plan fails naming the PKI and both CAs, and nothing changes", async () => {
  // GIVEN the seed cluster, deployed with the project's PKI
  const { project, lab } = seed;
  const deployedCa = fingerprint(project.pki);
  const members = (await memberList(lab)).map((m) => `${m.name} ${m.ID}`).sort();
  const parameters = Object.keys(readLabState(LAB)!.parameters).sort();
  expect(parameters).toHaveLength(3);

  // WHEN the PKI directory is gone (moved away), the project is synthesized again, which makes a new CA, and deployed
  const saved = `${project.pki}.saved`;
  renameSync(project.pki, saved);
  try {
    project.synth(SEED);
    const newCa = fingerprint(project.pki);
    expect(newCa).not.toBe(deployedCa);
    const mark = project.log.length;
    await expect(project.deploy()).rejects.toThrow();
    // Terraform wraps its messages: read the log as one line of words.
    const log = project
      .since(mark)
      .map((l) => l.replace(/^\[lab \S+\] ?/, ""))
      .join(" ")
      .replace(/\s+/g, " ");

    // THEN Terraform's plan failed on the guard, naming the PKI directory and both fingerprints
    expect(log).toMatch(/Resource precondition failed/);
    expect(log).toContain(`The PKI directory ${project.pki} holds a CA with SHA-256 fingerprint ${newCa}`);
    expect(log).toContain(`deployed with the CA whose fingerprint is ${deployedCa}`);
    expect(log).not.toMatch(/Apply complete|Creating\.\.\.|Destroying\.\.\./);
    // AND the cluster still has its key parameters
    expect(Object.keys(readLabState(LAB)!.parameters).sort()).toEqual(parameters);
  } finally {
    rmSync(project.pki, { recursive: true, force: true });
    renameSync(saved, project.pki);
  }
  // AND its 3 members, as the restored admin certificate sees them
  expect((await memberList(lab)).map((m) => `${m.name} ${m.ID}`).sort()).toEqual(members);

  // AND with the PKI restored, a synth plans no change
  project.synth(SEED);
  expect(await project.plan()).toBe(0);
});
