import { spawn } from "node:child_process";
import {
  appendFileSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { CommandResult, hostPath, run, RunOptions, runSync } from "../command";
import { identify, isAlive, ProcessIdentity, signalAndWait } from "../process-identity";
import { MachineImage } from "./image";

/**
 * A member's machine disk: a copy-on-write overlay of the image, so that each machine has its own
 * root filesystem (cloud-init's instance state, etcd's data) for as long as its instance exists,
 * across stops, starts and reboots, and costs only what it writes.
 */
export interface MachineDisk {
  readonly dir: string;
  /** The mounted root filesystem the machine boots. */
  readonly rootfs: string;
  readonly image: string;
}

/** What EC2 would give the instance: its id, its name on the network, its user data. */
export interface MachineIdentity {
  readonly instanceId: string;
  readonly hostname: string;
  readonly userData: string;
}

const SEED_DIR = "/var/lib/cloud/seed/nocloud";

/** Creates and mounts the machine's disk under `dir`, with cloud-init's NoCloud seed on it. */
export function createMachineDisk(image: MachineImage, dir: string, identity: MachineIdentity): MachineDisk {
  const disk = { dir, rootfs: join(dir, "rootfs"), image: image.rootfs };
  for (const sub of ["upper", "work", "rootfs"]) mkdirSync(join(dir, sub), { recursive: true, mode: 0o755 });
  mountDisk(disk);
  // The seed is the user data byte for byte; meta-data is what EC2's datasource would report.
  const seed = join(disk.rootfs, SEED_DIR);
  mkdirSync(seed, { recursive: true, mode: 0o755 });
  writeFileSync(join(seed, "user-data"), identity.userData, { mode: 0o600 });
  writeFileSync(join(seed, "meta-data"), `instance-id: ${identity.instanceId}\nlocal-hostname: ${identity.hostname}\n`, { mode: 0o644 });
  return disk;
}

function mountDisk(disk: MachineDisk): void {
  const d = disk.dir;
  const options = `lowerdir=${disk.image},upperdir=${join(d, "upper")},workdir=${join(d, "work")}`;
  runSync(["mount", "-n", "-t", "overlay", "overlay", "-o", options, disk.rootfs]);
}

export function isMounted(path: string): boolean {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .some((line) => line.split(" ")[4] === path);
}

/** Unmounts and deletes the disk: the instance is gone. */
export function destroyMachineDisk(disk: MachineDisk): void {
  if (isMounted(disk.rootfs)) runSync(["umount", "-n", disk.rootfs]);
  rmSync(disk.dir, { recursive: true, force: true });
}

export interface MachineBoot {
  readonly disk: MachineDisk;
  readonly identity: MachineIdentity;
  /** The network namespace the machine's eth0 lives in (on the lab's bridge). */
  readonly netns: string;
  /** The machine's console: everything systemd and cloud-init print there, appended. */
  readonly consoleLog: string;
  /** Host directories bound in: what the guest's fstab mounts, where systemd does not in a container. */
  readonly binds?: readonly { readonly source: string; readonly target: string }[];
}

/**
 * Boots the machine: systemd-nspawn with systemd as PID 1, in the member's network namespace.
 * nspawn runs detached from this process (the machine outlives it, until the lab goes down); the
 * returned identity is nspawn's own process.
 */
export function bootMachine(boot: MachineBoot): ProcessIdentity {
  if (!isMounted(boot.disk.rootfs)) mountDisk(boot.disk);
  const argv = [
    "systemd-nspawn",
    "--quiet",
    "--boot",
    `--directory=${boot.disk.rootfs}`,
    `--machine=${boot.identity.instanceId}`,
    `--hostname=${boot.identity.hostname}`,
    // There is no system bus to register with, and no unit of our own to move into.
    "--register=no",
    "--keep-unit",
    `--network-namespace-path=/run/netns/${boot.netns}`,
    "--console=read-only",
    "--link-journal=no",
    "--resolv-conf=off",
    "--timezone=off",
    "--private-users=no",
    ...(boot.binds ?? []).map((b) => `--bind=${b.source}:${b.target}`),
  ];
  appendFileSync(boot.consoleLog, `--- ${new Date().toISOString()} lab: booting ${boot.identity.instanceId}\n`);
  const log = openSync(boot.consoleLog, "a");
  try {
    const child = spawn(argv[0], argv.slice(1), {
      cwd: "/",
      env: { PATH: hostPath(), SYSTEMD_NSPAWN_TMPFS_TMP: "0" },
      detached: true,
      stdio: ["ignore", log, log],
    });
    child.unref();
    if (child.pid === undefined) throw new Error(`cannot boot ${boot.identity.instanceId}: systemd-nspawn did not spawn`);
    return identify(child.pid);
  } finally {
    closeSync(log);
  }
}

/** The host pid of the machine's PID 1 (systemd), once nspawn has started it. */
export function machineInit(nspawn: ProcessIdentity): number | undefined {
  if (!isAlive(nspawn)) return undefined;
  try {
    const children = readFileSync(`/proc/${nspawn.pid}/task/${nspawn.pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
    for (const child of children) {
      // PID 1 of the machine's own pid namespace.
      const status = readFileSync(`/proc/${child}/status`, "utf8");
      const nspid = /^NSpid:\s+(.*)$/m.exec(status)?.[1].split(/\s+/);
      if (nspid && nspid[nspid.length - 1] === "1") return Number(child);
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/**
 * The host pid of the machine's process named `comm` (e.g. "etcd"), if one runs: found by its pid
 * namespace, which is the machine's own.
 */
export function machineProcess(nspawn: ProcessIdentity, comm: string): number | undefined {
  const init = machineInit(nspawn);
  if (init === undefined) return undefined;
  let pidns: string;
  try {
    pidns = readlinkSync(`/proc/${init}/ns/pid`);
  } catch {
    return undefined;
  }
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, "utf8").trim() === comm && readlinkSync(`/proc/${entry}/ns/pid`) === pidns)
        return Number(entry);
    } catch {
      // Exited while we looked.
    }
  }
  return undefined;
}

/** Runs a command inside the machine, as root, in all its namespaces (as `machinectl shell` would). */
export function machineExec(nspawn: ProcessIdentity, argv: string[], options: RunOptions = {}): Promise<CommandResult> {
  const init = machineInit(nspawn);
  if (init === undefined) return Promise.resolve({ stdout: "", stderr: "the machine is not running", code: null });
  const env = options.env ?? { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" };
  return run(["nsenter", `--target=${init}`, "--all", "--", ...argv], { ...options, env });
}

/**
 * An orderly shutdown, as `aws ec2 stop-instances` does: nspawn passes SIGTERM on to the machine's
 * systemd as SIGRTMIN+3, which stops every unit. A machine still up after `timeoutMs` loses power.
 */
export async function shutdownMachine(nspawn: ProcessIdentity, timeoutMs = 30_000): Promise<void> {
  if (await signalAndWait(nspawn, "SIGTERM", timeoutMs)) return;
  await powerOffMachine(nspawn);
}

/** Power loss: every process of the machine dies at once (SIGKILL to its PID 1 kills its pid namespace). */
export async function powerOffMachine(nspawn: ProcessIdentity): Promise<void> {
  const init = machineInit(nspawn);
  if (init !== undefined) {
    try {
      process.kill(init, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  if (!(await signalAndWait(nspawn, "SIGKILL", 10_000))) throw new Error(`systemd-nspawn (pid ${nspawn.pid}) survived SIGKILL`);
}

/**
 * What nspawn leaves of a machine once it has exited: the empty directory it propagates mounts
 * through, which it declines to remove where /run is not a tmpfs.
 */
export function releaseMachine(instanceId: string): void {
  const dir = join("/run/systemd/nspawn/propagate", instanceId);
  if (existsSync(dir) && !isMounted(dir)) rmSync(dir, { recursive: true, force: true });
}

/** The console's last lines. */
export function consoleTail(consoleLog: string, lines = 40): string {
  if (!existsSync(consoleLog)) return "(no console output)";
  return readFileSync(consoleLog, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
}

/**
 * What an operator would look at on a member that is not healthy, read from inside its machine
 * (container or VM, through `exec`): cloud-init's verdict, the failed units and the etcd unit's
 * last journal lines.
 */
export async function evidenceFrom(exec: (argv: string[]) => Promise<CommandResult>, unit: string, consoleLog: string): Promise<string> {
  const views = [
    ["cloud-init", "status", "--long"],
    ["systemctl", "--failed", "--no-pager", "--no-legend"],
    ["journalctl", "-u", unit, "--no-pager", "-n", "25", "-o", "short-precise"],
  ];
  const out: string[] = [];
  for (const argv of views) {
    const r = await exec(argv);
    if (r.code === null && out.length === 0)
      return `the machine does not answer (${r.stderr.trim()}); its console ends:\n${consoleTail(consoleLog)}`;
    out.push(`$ ${argv.join(" ")}\n${(r.stdout + r.stderr).trimEnd() || "(nothing)"}`);
  }
  return out.join("\n");
}

export async function machineEvidence(nspawn: ProcessIdentity, consoleLog: string, unit = "etcd.service"): Promise<string> {
  if (machineInit(nspawn) === undefined) return `the machine is not running; its console ends:\n${consoleTail(consoleLog)}`;
  return evidenceFrom((argv) => machineExec(nspawn, argv, { timeoutMs: 10_000 }), unit, consoleLog);
}
