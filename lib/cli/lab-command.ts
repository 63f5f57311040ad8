// `etcd-cluster lab ...`: the local rehearsal (lib/lab) from the command line. Every command is
// its own process: after `lab up`, the others find the lab by name from its state file.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import * as path from "node:path";
import { DEFAULT_LAB, hostTools, Lab, labDeploy, labDestroy, labDown } from "../lab";
import { labHome, validateLabName } from "../lab/state";
import { terraformEnvironment } from "../lab/terraform";
import { resolveConnection, UsageError } from "./connection";
import { isHelpFlag, LAB_HELP, wantsHelp } from "./help";

export const LAB_USAGE = `  lab deploy STACK_DIR [--pki DIR] [--vm] [--outside]  cdktf deploy, with this host standing in for AWS: the real terraform init + apply
                                (for a new lab, --vm: members are full qemu VMs, KVM where it works, else TCG: minutes;
                                --outside: the deployer has no route to the members, as a laptop or CI runner outside the VPC)
  lab destroy STACK_DIR         cdktf destroy: the real terraform destroy; the lab goes once the stack is gone
  lab plan STACK_DIR            terraform plan -detailed-exitcode against the lab (exit 0: no changes, 2: changes)
  lab up STACK_DIR [--pki DIR] [--vm] [--outside]  lab deploy to a lab that is not running yet
  lab status                    the status command above, run inside the lab
  lab roll STACK_DIR            the roll command above, run where the lab's deployer stands, against the lab
  lab stop|start|reboot MEMBER  stop, start or reboot the member's machine, as EC2 does its instance
  lab kill MEMBER               power loss: the member's machine stops at once
  lab wipe MEMBER               delete a stopped member's etcd data directory (a lost disk)
  lab partition MEMBER          cut the member off the lab network; \`lab heal\` reconnects every partitioned member
  lab evidence MEMBER           cloud-init status, failed units and etcd's journal, read inside the machine
  lab down                      emergency cleanup: remove everything the lab created, whatever Terraform's state says
  (every lab command takes --name LAB, default ${DEFAULT_LAB}; root, Debian's etcd, systemd-container, debootstrap and Terraform >= 1.11 on PATH)`;

type Out = (line: string) => void;

interface LabArgs {
  readonly sub: string;
  readonly positional: string[];
  readonly name: string;
  readonly pki?: string;
  readonly vm: boolean;
  readonly outside: boolean;
}

const MEMBER_COMMANDS = ["stop", "start", "reboot", "kill", "wipe", "partition", "evidence"];

export async function labCommand(argv: string[], out: Out): Promise<number> {
  const [sub, ...rest] = argv;
  if (isHelpFlag(sub) || (sub === "help" && rest.length === 0)) {
    out(`usage:\n${LAB_USAGE}`);
    return 0;
  }
  if (sub === "help") return labCommand([...rest, "--help"], out);
  // Answered before the lab, the stack or the host is looked at.
  if (sub !== undefined && LAB_HELP[sub] && wantsHelp(rest)) {
    out(LAB_HELP[sub]);
    return 0;
  }
  let args: LabArgs | undefined;
  try {
    args = parseLabArgs(argv);
    return await dispatch(args, out);
  } catch (err) {
    out(`etcd-cluster lab${args ? ` ${args.sub}` : ""}: ${(err as Error).message}`);
    return err instanceof UsageError ? 2 : 1;
  }
}

async function dispatch({ sub, positional, name, pki, vm, outside }: LabArgs, out: Out): Promise<number> {
  const step = async <T>(what: string, action: () => T | Promise<T>): Promise<T> => {
    const t = Date.now();
    const result = await action();
    out(`[lab ${name}] ${what} (${Date.now() - t} ms)`);
    return result;
  };
  switch (sub) {
    case "up":
    case "deploy": {
      const stackDir = one(positional, "STACK_DIR");
      validateLabName(name);
      hostTools();
      const running = existsSync(labHome(name));
      if (sub === "up" && running) {
        throw new Error(
          `lab "${name}" is already running: \`etcd-cluster lab deploy\` applies a later synth, or \`lab down --name ${name}\` first`
        );
      }
      if (running && vm) throw new UsageError(`--vm chooses the machines of a new lab, and lab "${name}" is running`);
      if (running && outside) throw new UsageError(`--outside places the deployer of a new lab, and lab "${name}" is running`);
      const pkiDirectory = running ? undefined : pki ?? pkiOfStack(stackDir);
      const t = Date.now();
      const deployer = outside ? "outside" : "inside";
      const lab = await labDeploy({ stackDir, pkiDirectory, labName: name, log: out, machine: vm ? "vm" : "container", deployer });
      out(`[lab ${name}] deployed in ${((Date.now() - t) / 1000).toFixed(2)} s`);
      return statusView(lab, out);
    }
    case "destroy": {
      const stackDir = one(positional, "STACK_DIR");
      const t = Date.now();
      await labDestroy({ stackDir, labName: name, log: out });
      out(`[lab ${name}] destroyed in ${((Date.now() - t) / 1000).toFixed(2)} s`);
      return 0;
    }
    case "plan": {
      const stackDir = one(positional, "STACK_DIR");
      return Lab.attach(name).terraform(stackDir, ["plan", "-detailed-exitcode", "-input=false", "-no-color"], { log: out });
    }
    case "status":
      none(positional);
      return statusView(Lab.attach(name), out);
    case "roll": {
      const stackDir = path.resolve(one(positional, "STACK_DIR"));
      return rollInLab(Lab.attach(name), stackDir, out);
    }
    case "down":
      none(positional);
      hostTools();
      await labDown(name, { log: out });
      return 0;
    case "heal": {
      none(positional);
      const lab = Lab.attach(name);
      await step("healed every partition", () => lab.heal());
      return 0;
    }
    default: {
      if (!MEMBER_COMMANDS.includes(sub)) throw new UsageError(`unknown lab command ${JSON.stringify(sub)}\nusage:\n${LAB_USAGE}`);
      const member = one(positional, "MEMBER");
      const lab = Lab.attach(name);
      lab.member(member); // an unknown member is refused before anything happens
      if (sub === "evidence") {
        (await lab.evidence(member)).split("\n").forEach((line) => out(line));
        return 0;
      }
      const instance = lab.machine(member).instanceId;
      const actions: Record<string, [string, () => unknown]> = {
        stop: [`stopped ${member}'s machine ${instance} (systemd shut it down)`, () => lab.stop(member)],
        kill: [`powered off ${member}'s machine ${instance}`, () => lab.kill(member)],
        start: [`started ${member}'s machine ${instance}`, () => lab.start(member)],
        reboot: [`rebooted ${member}'s machine ${instance}`, () => lab.reboot(member)],
        wipe: [`wiped ${member}'s data directory`, () => lab.wipe(member)],
        partition: [`partitioned ${member} off the lab network`, () => lab.partition(member)],
      };
      const [what, action] = actions[sub];
      await step(what, action);
      if (sub === "start" || sub === "reboot") out(`[lab ${name}] ${member} is booting; \`lab status\` shows when it is healthy`);
      return 0;
    }
  }
}

/**
 * The operator CLI's own `status` (this file's sibling main), run from the deployer's namespace
 * against the lab's members: the view an operator gets on the real cluster, by the same code.
 */
/**
 * `etcd-cluster status` where the deployer stands: inside the VPC it dials the members; outside it
 * has no route to them and goes through the lab's SSM Run Command, as an operator's laptop would.
 */
async function statusView(lab: Lab, out: Out): Promise<number> {
  const endpoints = lab.memberNames.map((m) => lab.clientUrl(m)).join(",");
  const flags = ["--endpoints", endpoints, "--pki", lab.pkiDirectory, ...transportFlags(lab)];
  out(`[lab ${lab.name}] etcd-cluster status ${flags.join(" ")} (in ${lab.network.deployer.netns}):`);
  const t = Date.now();
  const code = await inDeployer(lab, ["status", ...flags], lab.network.observer ? lab.deployerAwsEnvironment() : {}, out);
  out(`[lab ${lab.name}] status (${Date.now() - t} ms)`);
  return code;
}

/**
 * `etcd-cluster roll` where the deployer stands, as an operator runs it: its Terraform is the real
 * one, against the lab's provider (served by this process while the roll runs), and it reaches the
 * members as the deployer does (through SSM Run Command when it stands outside the VPC).
 */
async function rollInLab(lab: Lab, stackDir: string, out: Out): Promise<number> {
  const flags = ["--stack", stackDir, ...transportFlags(lab)];
  out(`[lab ${lab.name}] etcd-cluster roll ${flags.join(" ")} (in ${lab.network.deployer.netns}):`);
  const t = Date.now();
  const code = await lab.withProvider(
    stackDir,
    (line) => out(`[lab ${lab.name}] ${line}`),
    (run) => inDeployer(lab, ["roll", ...flags], { ...terraformEnvironment(run), ETCD_CLUSTER_TERRAFORM: run.terraform }, out)
  );
  out(`[lab ${lab.name}] roll exited ${code} (${((Date.now() - t) / 1000).toFixed(2)} s)`);
  return code;
}

/** Outside the VPC there is no route to the members: the lab's SSM Run Command, as from an operator's laptop. */
function transportFlags(lab: Lab): string[] {
  const tag = lab.memberNames.map((m) => lab.member(m).tags?.["etcd:cluster"]).find(Boolean);
  return lab.network.observer !== undefined && tag !== undefined ? ["--transport=ssm", "--cluster-tag", tag] : [];
}

/** This file's sibling main, run in the deployer's namespace with PATH and `env` only: the caller's ETCDCTL_* and AWS_* must not leak in. */
function inDeployer(lab: Lab, argv: string[], env: Record<string, string>, out: Out): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const child = spawn("ip", ["netns", "exec", lab.network.deployer.netns, ...nodeRunning("main"), ...argv], {
      env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", ...tsNodeEnv(), ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let pending = "";
    const onData = (d: string) => {
      const lines = (pending + d).split("\n");
      pending = lines.pop()!;
      lines.forEach((l) => out(l));
    };
    child.stdout.setEncoding("utf8").on("data", onData);
    child.stderr.setEncoding("utf8").on("data", onData);
    child.on("error", reject);
    child.on("close", (c) => {
      if (pending) out(pending);
      resolve(c ?? 1);
    });
  });
}

/** argv that runs a sibling module of this file: compiled JavaScript, or TypeScript under ts-node when run from source. */
function nodeRunning(module: string): string[] {
  const fromSource = path.extname(__filename) === ".ts";
  const file = path.join(__dirname, module + (fromSource ? ".ts" : ".js"));
  return fromSource ? [process.execPath, "-r", require.resolve("ts-node/register/transpile-only"), file] : [process.execPath, file];
}

function tsNodeEnv(): Record<string, string> {
  return path.extname(__filename) === ".ts" ? { TS_NODE_PROJECT: path.join(__dirname, "..", "..", "tsconfig.json") } : {};
}

/** The directory of the CA certificate the stack's etcdctl_environment output names, relative to the current directory. */
function pkiOfStack(stackDir: string): string {
  try {
    return path.dirname(path.resolve(resolveConnection({ stack: stackDir }, {}).cacert));
  } catch (err) {
    throw new UsageError(
      `cannot find the PKI directory from ${stackDir}'s etcdctl_environment output (${(err as Error).message}): give --pki DIR`
    );
  }
}

function parseLabArgs(argv: string[]): LabArgs {
  const [sub, ...rest] = argv;
  if (!sub || sub === "help" || sub === "--help") throw new UsageError(`usage:\n${LAB_USAGE}`);
  const positional: string[] = [];
  const flags: Record<string, string> = {};
  let vm = false;
  let outside = false;
  for (let i = 0; i < rest.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(rest[i]);
    if (!m) {
      positional.push(rest[i]);
      continue;
    }
    if (m[1] === "vm" && m[2] === undefined && (sub === "up" || sub === "deploy")) {
      vm = true;
      continue;
    }
    if (m[1] === "outside" && m[2] === undefined && (sub === "up" || sub === "deploy")) {
      outside = true;
      continue;
    }
    if (m[1] !== "name" && !(m[1] === "pki" && (sub === "up" || sub === "deploy"))) throw new UsageError(`lab ${sub} takes no --${m[1]}`);
    const value = m[2] ?? rest[++i];
    if (value === undefined || value === "") throw new UsageError(`--${m[1]} needs a value`);
    flags[m[1]] = value;
  }
  return { sub, positional, name: flags.name ?? DEFAULT_LAB, pki: flags.pki, vm, outside };
}

function one(positional: string[], what: string): string {
  if (positional.length !== 1) throw new UsageError(`give exactly one ${what}`);
  return positional[0];
}

function none(positional: string[]): void {
  if (positional.length > 0) throw new UsageError(`unexpected ${positional.join(" ")}`);
}
