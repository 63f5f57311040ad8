// `etcd-cluster lab down`, the emergency cleanup, after a lab that grew by a member: nothing of the lab is left
// behind, whatever Terraform's state still says.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { Lab } from "../../lib/lab";
import { LabProject, labCli, NODE4, record, SEED } from "./real-lab";

const LAB = "realdown";
const project = new LabProject(LAB);

afterAll(() => project.remove());

function labNamespaces(): string[] {
  return execFileSync("ip", ["netns", "list"], { encoding: "utf8" })
    .split("\n")
    .map((l) => l.split(" ")[0])
    .filter((ns) => ns.startsWith(`${LAB}-`));
}

/** Running, as opposed to gone or a zombie waiting to be reaped. */
function running(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1][0] !== "Z";
  } catch {
    return false;
  }
}

test("lab down leaves no namespace, process or path of the lab", async () => {
  // GIVEN a lab brought up with the CLI and grown by etcd_node4 with a second `lab deploy`
  const up = await labCli(["up", project.synth(SEED), "--name", LAB]);
  expect(up.code).toBe(0);
  const grown = await labCli(["deploy", project.synth([...SEED, NODE4]), "--name", LAB]);
  expect(grown.code).toBe(0);
  const lab = Lab.attach(LAB);
  const pids = lab.memberNames.map((m) => lab.pid(m)!);
  const paths = [...lab.createdPaths, lab.stateDir];
  expect(pids).toHaveLength(4);
  expect(pids.every(running)).toBe(true);
  expect(labNamespaces()).toHaveLength(6); // bridge, deployer, 4 members

  // WHEN the operator runs `etcd-cluster lab down`
  const t = Date.now();
  const down = await labCli(["down", "--name", LAB]);
  record(LAB, "etcd-cluster lab down (4 members)", Date.now() - t);

  // THEN it succeeds and none of the lab's namespaces, processes or paths remain
  expect(down.code).toBe(0);
  expect(down.lines).toContainEqual(expect.stringMatching(new RegExp(`^\\[lab ${LAB}\\] down \\(\\d+ ms\\)$`)));
  expect(labNamespaces()).toEqual([]);
  expect(pids.filter(running)).toEqual([]);
  expect(paths.filter((p) => existsSync(p))).toEqual([]);
  expect(existsSync(`/run/${LAB}`)).toBe(false);
  // AND the lab is no longer known
  expect(() => Lab.attach(LAB)).toThrow(`no lab "${LAB}" is running`);
});
