import { ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { labDown } from "../../lib/lab";
import { hostDirClaims } from "../../lib/lab/host-dirs";
import { labNamespaces, running } from "../support/host-state";
import { LabProject } from "../support/lab-project";
import { SEED } from "../support/synth";
import { runInChild } from "./run-in-child";

const LAB = "labdown";
const CRASHED = "labcrash";
const FAILED = "labfail";
// 172.16.0.0/12: the host's network namespace must never hold such an address.
const PRIVATE_172 = /\b172\.(1[6-9]|2\d|3[01])\.\d+\.\d+/;
const project = new LabProject(LAB);
let monitor: ChildProcess;
let monitored = "";

beforeAll(() => {
  // Every link, address and route change in the host's network namespace while the labs run
  // (started first: making the PKI gives it ample time to subscribe).
  monitor = spawn("ip", ["-o", "monitor", "link", "address", "route"], { stdio: ["ignore", "pipe", "inherit"] });
  monitor.stdout!.setEncoding("utf8").on("data", (d: string) => (monitored += d));
  project.synth(SEED);
});

afterAll(async () => {
  monitor?.kill();
  await labDown(LAB);
  await labDown(CRASHED);
  await labDown(FAILED);
  await project.remove();
});

function hostAddresses(): string {
  return execFileSync("ip", ["-o", "addr"], { encoding: "utf8" });
}

function hostLinks(): string[] {
  return execFileSync("ip", ["-o", "link"], { encoding: "utf8" })
    .split("\n")
    .map((l) => l.split(":")[1]?.trim())
    .filter(Boolean);
}

/** Host directories labs create only while some lab uses them; with no lab claiming them they must be as before. */
const SHARED_DIRS = ["/etc/etcd", "/run/netns"];
const sharedBefore = Object.fromEntries(SHARED_DIRS.map((d) => [d, existsSync(d)]));
function expectSharedDirsReleased(lab: string): void {
  for (const dir of SHARED_DIRS) {
    const claims = hostDirClaims(dir);
    expect(claims).not.toContain(lab);
    if (claims.length === 0) expect(existsSync(dir)).toBe(sharedBefore[dir]);
  }
}

test("GIVEN a deployed lab WHEN labDown runs THEN every process, namespace and path the lab created is gone, and nothing else", async () => {
  // GIVEN a running lab
  const linksBefore = hostLinks();
  const lab = await project.deploy();
  const pids = lab.memberNames.map((m) => lab.pid(m)!);
  const created = lab.createdPaths;
  expect(pids.every(running)).toBe(true);
  expect(labNamespaces(LAB).sort()).toEqual(
    [`${LAB}-br`, `${LAB}-deployer`, `${LAB}-etcd_node1`, `${LAB}-etcd_node2`, `${LAB}-etcd_node3`].sort()
  );
  // AND the host's network namespace has no lab address and no new link while it runs
  expect(hostAddresses()).not.toMatch(PRIVATE_172);
  expect(hostLinks()).toEqual(linksBefore);

  // WHEN the lab is taken down
  await labDown(LAB);

  // THEN no namespace of the lab remains, none of its etcd processes runs, and no path it created exists
  expect(labNamespaces(LAB)).toEqual([]);
  expect(pids.filter(running)).toEqual([]);
  expect(created).toContain(`/run/${LAB}`);
  expect(created.filter((p) => existsSync(p))).toEqual([]);
  expectSharedDirsReleased(LAB);
  // AND a second labDown has nothing left to do
  await expect(labDown(LAB)).resolves.toBeUndefined();
});

test("GIVEN the process that deployed a lab died WHEN labDown runs from another THEN it cleans up after it", async () => {
  // GIVEN a lab started by a process that then exited (a crash, as far as the lab is concerned)
  const crashed = new LabProject(CRASHED);
  crashed.synth(SEED);
  const child = runInChild(`
    const l = await lab.labUp({ stackDir: ${JSON.stringify(crashed.stackDir)}, pkiDirectory: ${JSON.stringify(crashed.pki)},
      labName: "${CRASHED}", log: () => undefined });
    console.log(JSON.stringify({ pids: l.memberNames.map((m) => l.pid(m)), created: l.createdPaths }));
    process.exit(0);
  `);
  expect(child).toMatchObject({ status: 0 });
  const { pids, created } = JSON.parse(child.stdout) as { pids: number[]; created: string[] };
  expect(pids.every(running)).toBe(true);
  expect(labNamespaces(CRASHED)).toHaveLength(5);

  // WHEN labDown runs from another process, knowing only the lab's name
  await labDown(CRASHED);

  // THEN its orphaned etcd processes, namespaces and paths are gone
  expect(pids.filter(running)).toEqual([]);
  expect(labNamespaces(CRASHED)).toEqual([]);
  expect(created.filter((p) => existsSync(p))).toEqual([]);
  expectSharedDirsReleased(CRASHED);
  await crashed.remove();
});

test("GIVEN a member that cannot start WHEN deployed THEN the deploy fails quoting its journal, and labDown removes what it created", async () => {
  // GIVEN a synth whose etcd_node2 listens on an address its instance does not have
  const broken = new LabProject(FAILED);
  broken.synth(SEED);
  const file = join(broken.stackDir, "cdk.tf.json");
  writeFileSync(file, readFileSync(file, "utf8").replace("https://172.16.0.102:2379,https://127.0.0.1:2379", "https://172.16.9.9:2379"));
  try {
    // WHEN it is deployed
    const up = broken.deploy();

    // THEN it fails once systemd has restarted etcd 3 times, naming the member and quoting, from inside its
    // machine, etcd's own error in its journal
    await expect(up).rejects.toThrow(
      /not healthy: etcd_node2 keep failing\n--- etcd_node2: etcd.service failed and was restarted (3|4) times\n[\s\S]*journalctl -u etcd.service[\s\S]*172\.16\.9\.9:2379: bind: cannot assign requested address/
    );
  } finally {
    await broken.remove();
  }
  // AND after labDown nothing of the lab is left
  expect(labNamespaces(FAILED)).toEqual([]);
  expect(existsSync(`/run/${FAILED}`)).toBe(false);
  expectSharedDirsReleased(FAILED);
});

test("GIVEN the labs above THEN the host's network namespace saw no lab address, link or route at any point", () => {
  // GIVEN the labs above have been up and down
  // THEN `ip monitor` in the host's namespace recorded no 172.16.0.0/12 address and no change at all
  expect(monitored).not.toMatch(PRIVATE_172);
  expect(monitored).toBe("");
});
