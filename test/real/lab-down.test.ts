// `etcd-cluster lab down`, the emergency cleanup, after a lab that grew by a member: nothing of the lab is left
// behind, whatever Terraform's state still says.
import { existsSync } from "node:fs";
import { Lab } from "../../lib/lab";
import { labNamespaces, running } from "../support/host-state";
import { LabProject, labCli, NODE4, record, SEED } from "./real-lab";

const LAB = "realdown";
const project = new LabProject(LAB);

afterAll(() => project.remove());

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
  expect(labNamespaces(LAB)).toHaveLength(6); // bridge, deployer, 4 members

  // WHEN the operator runs `etcd-cluster lab down`
  const t = Date.now();
  const down = await labCli(["down", "--name", LAB]);
  record(LAB, "etcd-cluster lab down (4 members)", Date.now() - t);

  // THEN it succeeds and none of the lab's namespaces, processes or paths remain
  expect(down.code).toBe(0);
  expect(down.lines).toContainEqual(expect.stringMatching(new RegExp(`^\\[lab ${LAB}\\] down \\(\\d+ ms\\)$`)));
  expect(labNamespaces(LAB)).toEqual([]);
  expect(pids.filter(running)).toEqual([]);
  expect(paths.filter((p) => existsSync(p))).toEqual([]);
  expect(existsSync(`/run/${LAB}`)).toBe(false);
  // AND the lab is no longer known
  expect(() => Lab.attach(LAB)).toThrow(`no lab "${LAB}" is running`);
});
