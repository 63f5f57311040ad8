import { existsSync } from "node:fs";
import { Lab, labUp } from "../../lib/lab";
import { useFixtureLab } from "./make-stack";
import { runInChild } from "./run-in-child";

const LAB = "labrefuse";
const fixture = useFixtureLab(LAB);
let input: { stackDir: string; pkiDir: string };
let lab: Lab;

beforeAll(() => {
  ({ input, lab } = fixture);
});

test("labUp refuses a lab name that is already running, and leaves that lab alone", async () => {
  // GIVEN a running lab
  const pids = lab.memberNames.map((m) => lab.pid(m));

  // WHEN labUp is called again with its name
  const again = labUp({ stackDir: input.stackDir, pkiDirectory: input.pkiDir, labName: LAB, log: () => undefined });

  // THEN it refuses, saying why and what to do
  await expect(again).rejects.toThrow(`lab "${LAB}" is already running (/run/${LAB}/state.json exists); run labDown("${LAB}") first`);
  // AND the running lab is untouched: same processes, still healthy
  expect(lab.memberNames.map((m) => lab.pid(m))).toEqual(pids);
  await lab.waitHealthy(undefined, 10_000);
});

test("labUp refuses when etcd is not installed, naming the packages", async () => {
  // GIVEN a PATH on which there is no etcd
  const path = process.env.PATH;
  process.env.PATH = "/nonexistent";
  try {
    // WHEN a lab is started THEN it refuses with the install command
    await expect(
      labUp({ stackDir: input.stackDir, pkiDirectory: input.pkiDir, labName: "labnoetcd", log: () => undefined })
    ).rejects.toThrow("etcd is not installed (no etcd on PATH): apt-get install etcd-server etcd-client");
  } finally {
    process.env.PATH = path;
  }
});

test("labUp refuses to run without root", () => {
  // WHEN an unprivileged user (nobody) starts a lab
  const child = runInChild(
    `await lab.labUp({ stackDir: ${JSON.stringify(input.stackDir)}, pkiDirectory: "/nonexistent", labName: "labnoroot" });`,
    { asUid: 65534 }
  );

  // THEN it refuses before touching anything
  expect(child).toMatchObject({ status: 3, stdout: expect.stringContaining("ERROR: the etcd lab must run as root") });
});

test("labUp refuses a machine kind it does not know, naming the value and the choices, and creates nothing", async () => {
  // WHEN a lab is asked for machines of an unknown kind (a JavaScript caller, past the types)
  const up = labUp({ stackDir: input.stackDir, pkiDirectory: input.pkiDir, labName: "labbadkind", machine: "vmm" as "vm", log: () => undefined });

  // THEN it refuses before anything exists
  await expect(up).rejects.toThrow('machine is "vmm" but must be "container" or "vm"');
  expect(existsSync("/run/labbadkind")).toBe(false);
});
