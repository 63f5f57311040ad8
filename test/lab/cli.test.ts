import { join } from "node:path";
import { main } from "../../lib/cli/main";
import { Lab } from "../../lib/lab";
import { LabProject } from "../support/lab-project";
import { SEED } from "../support/synth";
import { makeLabInput } from "./make-stack";
import { runInChild } from "./run-in-child";

// `etcd-cluster lab ...` refuses clearly, before touching anything, and leaves a running lab alone.
const LAB = "labcli";
const project = new LabProject(LAB);
const input = { stackDir: project.stackDir, pkiDir: project.pki };
let lab: Lab;

beforeAll(async () => {
  project.synth(SEED);
  lab = await project.deploy();
});

afterAll(() => project.remove());

async function cli(...args: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const code = await main(["lab", ...args], (l) => lines.push(l));
  return { code, out: lines.join("\n") };
}

test("the usage names every lab command", async () => {
  const help: string[] = [];
  expect(await main(["help"], (l) => help.push(l))).toBe(0);
  for (const sub of [
    "lab deploy STACK_DIR",
    "lab destroy STACK_DIR",
    "lab plan STACK_DIR",
    "lab up STACK_DIR",
    "lab status",
    "lab stop|start|reboot MEMBER",
    "lab kill MEMBER",
    "lab wipe MEMBER",
    "lab partition MEMBER",
    "lab evidence MEMBER",
    "lab heal",
    "lab down",
  ]) {
    expect(help.join("\n")).toContain(sub);
  }
  expect(await cli()).toMatchObject({ code: 2, out: expect.stringContaining("lab up STACK_DIR") });
  expect(await cli("frob")).toMatchObject({ code: 2, out: expect.stringContaining('etcd-cluster lab frob: unknown lab command "frob"') });
});

test("lab up refuses a running lab's name, naming the CLI command that takes it down, and leaves it running", async () => {
  const pids = lab.memberNames.map((m) => lab.pid(m));
  expect(await cli("up", input.stackDir, "--pki", input.pkiDir, "--name", LAB)).toEqual({
    code: 1,
    out: `etcd-cluster lab up: lab "${LAB}" is already running: \`etcd-cluster lab deploy\` applies a later synth, or \`lab down --name ${LAB}\` first`,
  });
  expect(lab.memberNames.map((m) => lab.pid(m))).toEqual(pids);
});

test("lab up refuses when etcd is not installed", async () => {
  const path = process.env.PATH;
  process.env.PATH = "/nonexistent";
  try {
    expect(await cli("up", input.stackDir, "--pki", input.pkiDir, "--name", "labclinoetcd")).toEqual({
      code: 1,
      out: "etcd-cluster lab up: etcd is not installed (no etcd on PATH): apt-get install etcd-server etcd-client",
    });
  } finally {
    process.env.PATH = path;
  }
});

test("lab commands refuse to run without root", () => {
  const mainModule = JSON.stringify(join(__dirname, "..", "..", "lib", "cli", "main"));
  for (const args of [
    ["up", input.stackDir, "--name", "labclinoroot"],
    ["status", "--name", LAB],
  ]) {
    const child = runInChild(`process.exit(await require(${mainModule}).main(${JSON.stringify(["lab", ...args])}));`, { asUid: 65534 });
    expect(child).toMatchObject({
      status: 1,
      stdout: expect.stringContaining(`etcd-cluster lab ${args[0]}: the etcd lab must run as root`),
    });
  }
});

test("lab up without --pki needs the stack's etcdctl_environment output", async () => {
  // GIVEN a stack without EtcdCluster outputs (a hand-made test stack) WHEN no --pki is given THEN it says what to give
  const bare = makeLabInput();
  try {
    expect(await cli("up", bare.stackDir, "--name", "labclinopki")).toMatchObject({
      code: 2,
      out: expect.stringMatching(
        /^etcd-cluster lab up: cannot find the PKI directory from .*etcdctl_environment output .*: give --pki DIR$/
      ),
    });
  } finally {
    bare.remove();
  }
});

test("member commands name the lab's members when given another, and an absent lab is named", async () => {
  expect(await cli("stop", "etcd_node9", "--name", LAB)).toEqual({
    code: 1,
    out: `etcd-cluster lab stop: no member "etcd_node9" in lab ${LAB} (members: etcd_node1, etcd_node2, etcd_node3)`,
  });
  expect(await cli("status", "--name", "labclinone")).toEqual({
    code: 1,
    out: 'etcd-cluster lab status: no lab "labclinone" is running (/run/labclinone/state.json does not exist)',
  });
});
