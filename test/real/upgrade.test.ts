// Issue 14: a rolling upgrade, 3.4.23 to 3.5.30, the way a user does one: a new `install.version`
// synthesized, then `etcd-cluster roll`, while a client writes a key every 50 ms. Both releases
// come from the lab's mirror in the official tarball layout, each with its real SHA-256, so every
// member's own boot script downloads, verifies and unpacks the version it is given.
import { readFileSync } from "node:fs";
import { labEtcdInstall, startWriteLoad, type Lab } from "../../lib/lab";
import { labCli, LabProject, memberList, readKeys, record, SEED, seedLab } from "./real-lab";

const LAB = "etcdupgrade";
const FROM = labEtcdInstall("v3.4.23");
const TO = labEtcdInstall("v3.5.30");
const project = new LabProject(LAB, { clusterProps: { install: FROM } });
let lab: Lab;

beforeAll(async () => {
  lab = await seedLab(project);
});
afterAll(() => project.remove());

async function versions(): Promise<string[]> {
  const r = await lab.etcdctl(["endpoint", "status", "-w", "json"]);
  return (JSON.parse(r.stdout) as { Status: { version: string } }[]).map((s) => s.Status.version);
}

test("GIVEN a 3.4.23 cluster and a client writing every 50 ms WHEN 3.5.30 is rolled out THEN every member runs it, as the member it was, and no acknowledged write is lost", async () => {
  expect(await versions()).toEqual(["3.4.23", "3.4.23", "3.4.23"]);
  const before = await memberList(lab);

  // GIVEN a skipped minor THEN synth refuses it, and the stack stays as it was
  const synthesized = readFileSync(`${project.stackDir}/cdk.tf.json`, "utf8");
  expect(() => project.synth(SEED, { install: { version: "v3.6.14" } })).toThrow(
    /install\.version is "v3\.6\.14" but etcd_node1, etcd_node2, etcd_node3 run v3\.4\.23 \(the Terraform state \S+\): etcd upgrades one minor version at a time: roll 3\.4 -> 3\.5 -> 3\.6/
  );
  expect(readFileSync(`${project.stackDir}/cdk.tf.json`, "utf8")).toBe(synthesized);

  // WHEN the new version is synthesized and rolled
  project.synth(SEED, { install: TO });
  const load = startWriteLoad((k, v) => lab.etcdctl(["put", k, v, "--dial-timeout=1s", "--command-timeout=2s"]), { prefix: "upgrade" });
  const t = Date.now();
  const { code, lines } = await labCli(["roll", project.stackDir, "--name", LAB]);
  const report = await load.stop();
  record(LAB, "rolling upgrade 3.4.23 -> 3.5.30 of 3 members", Date.now() - t);
  record(
    LAB,
    `writes during the upgrade: ${report.attempted} started, ${report.failures.length} failed, ${report.skipped} skipped; longest without an ack`,
    report.longestOutageMs
  );
  expect({ code, tail: lines.slice(-5) }).toMatchObject({ code: 0 });
  expect(lines.join("\n")).toMatch(/\[1\/3\] \S+: replacing its VM \(user data: \/usr\/local\/sbin\/etcd-bootstrap\)/);

  // THEN each member answers as 3.5.30, installed by its own boot script from the mirror, with etcdutl
  expect(await versions()).toEqual(["3.5.30", "3.5.30", "3.5.30"]);
  for (const m of SEED) {
    const installed = await lab.machineExec(m.name, [
      "sh",
      "-c",
      "/usr/local/bin/etcd --version | head -n 1; /usr/local/bin/etcdutl version | head -n 1",
    ]);
    expect(installed.stdout).toBe("etcd Version: 3.5.30\netcdutl version: 3.5.30\n");
    const boot = await lab.machineExec(m.name, ["grep", "etcd-bootstrap: downloading", "/var/log/cloud-init-output.log"]);
    expect(boot.stdout.trim()).toBe(`etcd-bootstrap: downloading ${TO.mirrorUrl}/v3.5.30/etcd-v3.5.30-linux-amd64.tar.gz`);
  }
  // AND the cluster moved to 3.5 once every member ran it, with the same members and every acknowledged key
  // (the leader moves the cluster version on its own, within seconds of the last member's start)
  const tls = [
    "--cacert",
    `${lab.pkiDirectory}/ca.pem`,
    "--cert",
    `${lab.pkiDirectory}/admin.pem`,
    "--key",
    `${lab.pkiDirectory}/admin-key.pem`,
  ];
  const clusterVersion = async () =>
    JSON.parse((await lab.exec("observer", ["curl", "-sS", ...tls, `${lab.clientUrl("etcd_node1")}/version`])).stdout);
  const deadline = Date.now() + 30_000;
  while ((await clusterVersion()).etcdcluster !== "3.5.0" && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
  expect(await clusterVersion()).toEqual({ etcdserver: "3.5.30", etcdcluster: "3.5.0" });
  expect(await memberList(lab)).toEqual(before);
  expect(await readKeys(lab, "upgrade")).toEqual(Object.fromEntries(report.acknowledged));
  expect(report.skipped).toBe(0);
  expect(report.longestOutageMs).toBeLessThan(3_000);
});
