import { spawn, spawnSync } from "node:child_process";
import { appendFileSync, closeSync, mkdirSync, openSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CommandResult, hostPath, runSync, RunOptions, sleep, which } from "../command";
import { identify, isAlive, ProcessIdentity, signalAndWait, waitExit } from "../process-identity";
import { consoleTail, evidenceFrom, MachineIdentity } from "./container";
import { guestAgent, guestAgentSend, MAX_SOCKET_PATH, qmp } from "./qemu-socket";
import { VM_ROOT_LABEL, VmImage } from "./vm-image";
import { VM_TAP, vmMac, VmNet, vmNetworkCommandLine } from "./vm-network";
import type { AttachedVolume } from "./driver";

/**
 * A member's VM disk: a qcow2 overlay of the image's base disk (the VM's own root filesystem for
 * as long as its instance exists, across stops, starts and reboots) and its NoCloud seed.
 */
export interface VmDisk {
  readonly dir: string;
  /** qcow2, backed by the image's base disk. */
  readonly overlay: string;
  /** The NoCloud seed: a vfat disk labelled CIDATA holding user-data and meta-data. */
  readonly seed: string;
}

/** The guest agent's socket (virtio-serial port org.qemu.guest_agent.0) and QMP's, in the disk's dir. */
function agentSocket(dir: string): string {
  return join(dir, "qga.sock");
}
function qmpSocket(dir: string): string {
  return join(dir, "qmp.sock");
}

/** Creates the VM's overlay and seed under `dir`. The network is not on the disk: see bootVm. */
export function createVmDisk(image: VmImage, dir: string, identity: MachineIdentity): VmDisk {
  for (const [tool, pkg] of [
    ["qemu-img", "qemu-utils"],
    ["mkfs.vfat", "dosfstools"],
    ["mcopy", "mtools"],
  ]) {
    if (!which(tool)) throw new Error(`the lab's VMs need ${tool}: apt-get install ${pkg}`);
  }
  if (agentSocket(dir).length > MAX_SOCKET_PATH)
    throw new Error(`the VM's directory ${dir} is too long for its sockets (${MAX_SOCKET_PATH} bytes at most)`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const disk = { dir, overlay: join(dir, "disk.qcow2"), seed: join(dir, "seed.img") };
  runSync(["qemu-img", "create", "-q", "-f", "qcow2", "-b", image.baseDisk, "-F", "qcow2", disk.overlay]);
  // The seed's files: the user data byte for byte; meta-data is what EC2's datasource would report.
  const files = join(dir, "seed");
  mkdirSync(files, { mode: 0o700 });
  try {
    const userData = join(files, "user-data");
    const metaData = join(files, "meta-data");
    writeFileSync(userData, identity.userData, { mode: 0o600 });
    writeFileSync(metaData, `instance-id: ${identity.instanceId}\nlocal-hostname: ${identity.hostname}\n`, { mode: 0o600 });
    const kib = Math.max(1024, 2 * Math.ceil(Buffer.byteLength(identity.userData) / 1024) + 512);
    runSync(["mkfs.vfat", "-n", "CIDATA", "-C", disk.seed, String(kib)]);
    // mcopy copies bytes as they are (no -t: no line-end conversion).
    runSync(["mcopy", "-i", disk.seed, userData, metaData, "::"]);
  } finally {
    rmSync(files, { recursive: true, force: true });
  }
  return disk;
}

/** Deletes the disk: the instance is gone. */
export function destroyVmDisk(disk: VmDisk): void {
  rmSync(disk.dir, { recursive: true, force: true });
}

export interface VmAccelerator {
  readonly accel: "kvm" | "tcg";
  /** Why this one: what the probe found. */
  readonly why: string;
}

let probed: VmAccelerator | undefined;

/**
 * KVM when it actually runs the image's kernel, else TCG (software emulation, several times
 * slower). /dev/kvm opening is not enough: a host whose KVM is itself paravirtual (kvm_pvm) opens
 * it and starts qemu, and a stock kernel then never prints a line. So the probe boots the image's
 * kernel without a root filesystem and waits for its panic on the serial console (about a second
 * under working KVM; 8 s is the verdict). Probed once per process.
 */
export function vmAccelerator(image: VmImage, probeTimeoutMs = 8_000): VmAccelerator {
  if (probed) return probed;
  probed = probeKvm(image, probeTimeoutMs);
  return probed;
}

function probeKvm(image: VmImage, timeoutMs: number): VmAccelerator {
  try {
    closeSync(openSync("/dev/kvm", "r+"));
  } catch (e) {
    return { accel: "tcg", why: `/dev/kvm is not usable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` };
  }
  const t = Date.now();
  const r = spawnSync(
    "qemu-system-x86_64",
    [
      ...["-accel", "kvm", "-cpu", "host", "-m", "256", "-smp", "1", "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot"],
      ...["-serial", "stdio", "-kernel", image.kernel, "-append", "console=ttyS0 panic=-1 root=/dev/nonexistent"],
    ],
    { encoding: "utf8", env: { PATH: hostPath() }, timeout: timeoutMs, killSignal: "SIGKILL" }
  );
  const s = ((Date.now() - t) / 1000).toFixed(1);
  if (r.error && (r.error as NodeJS.ErrnoException).code === "ENOENT") {
    throw new Error("the lab's VMs need qemu-system-x86_64: apt-get install qemu-system-x86");
  }
  if (/Linux version/.test(r.stdout)) return { accel: "kvm", why: `the image's kernel booted under KVM in ${s} s` };
  // qemu's own complaint, if it died (kvm_pvm refuses -cpu host's MSRs and qemu aborts).
  const said = (r.stderr || r.stdout).trim().split("\n")[0];
  const what =
    r.signal === "SIGKILL" ? `the kernel printed nothing in ${s} s` : `qemu ended (${r.signal ?? r.status}): ${said || "no output"}`;
  return { accel: "tcg", why: `/dev/kvm opens, but the image's kernel did not run under KVM (${what})` };
}

export interface VmBoot {
  readonly image: VmImage;
  readonly disk: VmDisk;
  readonly identity: MachineIdentity;
  /** The member's network namespace, prepared by prepareVmNetwork (its tap is the VM's NIC). */
  readonly netns: string;
  readonly net: VmNet;
  /** The serial console (kernel, systemd, cloud-init) and qemu's own messages, appended. */
  readonly consoleLog: string;
  /** @default vmAccelerator(image) */
  readonly accelerator?: VmAccelerator;
  /** Guest memory in MiB. @default 768 */
  readonly memoryMiB?: number;
  /** EBS volumes attached to the instance, as NVMe drives. */
  readonly volumes?: readonly AttachedVolume[];
}

/** The kernel command line: the root by label, the serial console, the network (vm-network.ts). */
export function vmKernelCommandLine(net: VmNet): string {
  return [`root=LABEL=${VM_ROOT_LABEL}`, "rw", "console=ttyS0,115200", ...vmNetworkCommandLine(net)].join(" ");
}

/**
 * Boots the VM: qemu in the member's network namespace, detached from this process (the VM
 * outlives it, until the lab goes down). qemu stays up across the guest's reboots (no -no-reboot:
 * a guest reboot is a reset of the same process) and exits when the guest powers off.
 */
export function bootVm(boot: VmBoot): ProcessIdentity {
  const accel = boot.accelerator ?? vmAccelerator(boot.image);
  const { dir } = boot.disk;
  for (const socket of [agentSocket(dir), qmpSocket(dir)]) rmSync(socket, { force: true });
  const argv = [
    // nsenter execs qemu: the pid spawned is qemu's own.
    ...["nsenter", `--net=/run/netns/${boot.netns}`, "--", "qemu-system-x86_64"],
    ...["-name", boot.identity.instanceId, "-machine", "pc", "-accel", accel.accel],
    ...(accel.accel === "kvm" ? ["-cpu", "host"] : []),
    ...["-smp", "1", "-m", String(boot.memoryMiB ?? 768)],
    // Nothing qemu would add by itself (VGA, a NIC on its user network, a monitor on stdio).
    ...["-nodefaults", "-no-user-config", "-display", "none"],
    ...["-kernel", boot.image.kernel, "-initrd", boot.image.initrd, "-append", vmKernelCommandLine(boot.net)],
    ...["-drive", `file=${boot.disk.overlay},format=qcow2,if=none,id=root,discard=unmap`, "-device", "virtio-blk-pci,drive=root"],
    ...["-drive", `file=${boot.disk.seed},format=raw,if=none,id=seed,readonly=on`, "-device", "virtio-blk-pci,drive=seed"],
    ...(boot.volumes ?? []).flatMap((v) => [
      ...["-drive", `file=${v.file},format=raw,if=none,id=${v.volumeId}`],
      ...["-device", `nvme,drive=${v.volumeId},id=nvme-${v.volumeId},serial=${nvmeSerial(v.volumeId)}`],
    ]),
    // romfile=: no iPXE option ROM to load, the kernel is given.
    ...[
      "-netdev",
      `tap,id=net0,ifname=${VM_TAP},script=no,downscript=no`,
      "-device",
      `virtio-net-pci,netdev=net0,mac=${vmMac(boot.identity.instanceId)},romfile=`,
    ],
    // The guest's entropy at once: cloud-init and the boot script's TLS would wait on it under TCG.
    ...["-device", "virtio-rng-pci"],
    ...["-chardev", `file,id=console,path=${boot.consoleLog},append=on`, "-serial", "chardev:console"],
    ...["-chardev", `socket,id=qga,path=${agentSocket(dir)},server=on,wait=off`],
    ...["-device", "virtio-serial-pci", "-device", "virtserialport,chardev=qga,name=org.qemu.guest_agent.0"],
    ...["-qmp", `unix:${qmpSocket(dir)},server=on,wait=off`],
  ];
  appendFileSync(boot.consoleLog, `--- ${new Date().toISOString()} lab: booting ${boot.identity.instanceId} (qemu, ${accel.accel})\n`);
  const log = openSync(boot.consoleLog, "a");
  try {
    const child = spawn(argv[0], argv.slice(1), { cwd: "/", env: { PATH: hostPath() }, detached: true, stdio: ["ignore", log, log] });
    child.unref();
    if (child.pid === undefined) throw new Error(`cannot boot ${boot.identity.instanceId}: qemu did not spawn`);
    return identify(child.pid);
  } finally {
    closeSync(log);
  }
}

/**
 * EC2's NVMe serial for an EBS volume: its id without the dash (20 characters, NVMe's maximum).
 * qemu reports its own model ("QEMU NVMe Ctrl"), so udev names it nvme-QEMU_NVMe_Ctrl_<serial>.
 */
function nvmeSerial(volumeId: string): string {
  return volumeId.replace(/-/g, "");
}

/** Attaches a volume to the running VM: the file as a block node, then an NVMe controller on the PCI bus (ACPI hot-plug). */
export async function hotplugVmVolume(dir: string, volume: AttachedVolume): Promise<void> {
  const socket = qmpSocket(dir);
  // Terraform attaches the volume right after RunInstances returns, which a VM's is as soon as qemu
  // has spawned: its monitor socket may not answer yet.
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await qmp(socket, "query-status", undefined, 5_000);
      break;
    } catch (e) {
      if (Date.now() > deadline)
        throw new Error(`cannot attach ${volume.volumeId}: qemu's monitor did not answer in 60 s: ${(e as Error).message}`);
      await sleep(250);
    }
  }
  await qmp(
    socket,
    "blockdev-add",
    { driver: "raw", "node-name": volume.volumeId, file: { driver: "file", filename: volume.file } },
    10_000
  );
  await qmp(
    socket,
    "device_add",
    { driver: "nvme", drive: volume.volumeId, id: `nvme-${volume.volumeId}`, serial: nvmeSerial(volume.volumeId) },
    10_000
  );
}

interface ExecStatus {
  exited: boolean;
  exitcode?: number;
  signal?: number;
  "out-data"?: string;
  "err-data"?: string;
}

const GUEST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * Runs a command inside the VM, as root, through the guest agent (guest-exec, then polls of
 * guest-exec-status): as machineExec does for a container. `code` is null when the VM or its agent
 * does not answer, or the command outlived `timeoutMs` (the guest's `timeout` then kills it).
 */
export async function vmExec(p: ProcessIdentity, dir: string, argv: string[], options: RunOptions = {}): Promise<CommandResult> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  const socket = agentSocket(dir);
  const left = () => Math.max(1, Math.min(15_000, deadline - Date.now()));
  const env = Object.entries(options.env ?? { PATH: GUEST_PATH }).map(([k, v]) => `${k}=${v}`);
  if (!isAlive(p)) return { stdout: "", stderr: "the VM is not running", code: null };
  let pid: number;
  try {
    ({ pid } = await guestAgent<{ pid: number }>(
      socket,
      "guest-exec",
      {
        path: "/usr/bin/timeout",
        arg: ["-s", "KILL", `${Math.ceil(timeoutMs / 1000)}s`, ...argv],
        env,
        "capture-output": true,
        ...(options.input !== undefined ? { "input-data": Buffer.from(options.input).toString("base64") } : {}),
      },
      left()
    ));
  } catch (e) {
    return { stdout: "", stderr: `the VM's guest agent: ${(e as Error).message}`, code: null };
  }
  let wait = 50;
  for (;;) {
    let status: ExecStatus;
    try {
      status = await guestAgent<ExecStatus>(socket, "guest-exec-status", { pid }, left());
    } catch (e) {
      if (Date.now() >= deadline || !isAlive(p)) return { stdout: "", stderr: `the VM's guest agent: ${(e as Error).message}`, code: null };
      await sleep(200);
      continue;
    }
    if (status.exited) {
      const text = (b64?: string) => (b64 ? Buffer.from(b64, "base64").toString("utf8") : "");
      // `timeout -s KILL` leaves 137 when it killed the command.
      const killed = status.signal !== undefined || (status.exitcode === 137 && Date.now() >= deadline - 1_000);
      return { stdout: text(status["out-data"]), stderr: text(status["err-data"]), code: killed ? null : status.exitcode ?? null };
    }
    if (Date.now() >= deadline) return { stdout: "", stderr: `still running after ${timeoutMs} ms`, code: null };
    await sleep(wait);
    wait = Math.min(wait * 2, 500);
  }
}

/** The guest's boot id: a new one after every boot, reboots included. Undefined while it does not answer. */
export async function vmBootId(p: ProcessIdentity, dir: string, timeoutMs = 10_000): Promise<string | undefined> {
  const r = await vmExec(p, dir, ["cat", "/proc/sys/kernel/random/boot_id"], { timeoutMs });
  return r.code === 0 ? r.stdout.trim() : undefined;
}

export interface VmUp {
  readonly bootId: string;
  /** `systemctl is-system-running`: running or degraded. */
  readonly state: string;
}

/**
 * Waits until the guest has finished starting up (systemd running or degraded) in a boot other
 * than `notBootId`: after a reboot, the old boot's last answers do not count.
 */
export async function waitVmUp(p: ProcessIdentity, dir: string, timeoutMs: number, notBootId?: string): Promise<VmUp> {
  const deadline = Date.now() + timeoutMs;
  let last = "the guest agent has not answered";
  while (Date.now() < deadline) {
    if (!isAlive(p)) throw new Error("qemu exited while the VM was booting");
    const r = await vmExec(p, dir, ["sh", "-c", "cat /proc/sys/kernel/random/boot_id; systemctl is-system-running"], {
      timeoutMs: Math.min(20_000, Math.max(1_000, deadline - Date.now())),
    });
    const [bootId, state] = r.stdout.trim().split("\n");
    if (r.code === null) last = r.stderr.trim();
    else if (bootId === notBootId) last = "the guest has not rebooted yet";
    else if (state === "running" || state === "degraded") return { bootId, state };
    else last = `systemd is "${state}"`;
    await sleep(1_000);
  }
  throw new Error(`the VM is not up after ${timeoutMs / 1000} s: ${last}`);
}

/**
 * `aws ec2 reboot-instances`: the guest's own `systemctl reboot`; qemu resets the same process and
 * the guest boots again. Done when the guest answers from a new boot id with systemd up.
 */
export async function rebootVm(p: ProcessIdentity, dir: string, timeoutMs: number): Promise<VmUp> {
  const before = await vmBootId(p, dir);
  if (before === undefined) throw new Error("cannot reboot the VM: its guest agent does not answer");
  await vmExec(p, dir, ["systemctl", "reboot"], { timeoutMs: 10_000 });
  return waitVmUp(p, dir, timeoutMs, before);
}

/**
 * An orderly shutdown, as `aws ec2 stop-instances` does: the ACPI power button (QMP
 * system_powerdown), which the guest's logind answers with a poweroff; qemu exits when it is done.
 * The guest agent's guest-shutdown is the second way in, for a guest whose logind is not up yet.
 * A VM still up after `timeoutMs` loses power.
 */
export async function shutdownVm(p: ProcessIdentity, dir: string, timeoutMs = 60_000): Promise<void> {
  if (!isAlive(p)) return;
  const deadline = Date.now() + timeoutMs;
  try {
    await qmp(qmpSocket(dir), "system_powerdown", undefined, 5_000);
  } catch {
    // qemu's monitor not answering: the agent, or the power cord, below.
  }
  if (await waitExit(p, Math.max(0, Math.min(timeoutMs / 2, deadline - Date.now())))) return;
  try {
    await guestAgentSend(agentSocket(dir), "guest-shutdown", { mode: "powerdown" }, Math.max(1, Math.min(10_000, deadline - Date.now())));
  } catch {
    // No agent either.
  }
  if (await waitExit(p, Math.max(0, deadline - Date.now()))) return;
  await powerOffVm(p);
}

/** Power loss: qemu is killed, the guest with it. The overlay keeps what the guest had flushed. */
export async function powerOffVm(p: ProcessIdentity): Promise<void> {
  if (!(await signalAndWait(p, "SIGKILL", 10_000))) throw new Error(`qemu (pid ${p.pid}) survived SIGKILL`);
}

/** machineEvidence for a VM: the same views, through the guest agent. */
export async function vmEvidence(p: ProcessIdentity, dir: string, consoleLog: string, unit = "etcd.service"): Promise<string> {
  if (!isAlive(p)) return `the VM is not running; its console ends:\n${consoleTail(consoleLog)}`;
  return evidenceFrom((argv) => vmExec(p, dir, argv, { timeoutMs: 20_000 }), unit, consoleLog);
}
