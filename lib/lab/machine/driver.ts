import type { CommandResult, RunOptions } from "../command";
import { sleep } from "../command";
import { isAlive, ProcessIdentity, waitExit } from "../process-identity";
import {
  bootMachine,
  createMachineDisk,
  destroyMachineDisk,
  MachineDisk,
  machineEvidence,
  machineExec,
  machineInit,
  machineProcess,
  MachineIdentity,
  powerOffMachine,
  releaseMachine,
  shutdownMachine,
  consoleTail,
} from "./container";
import type { MachineImage } from "./image";
import { deviceNodeScript } from "../volumes";
import {
  bootVm,
  hotplugVmVolume,
  createVmDisk,
  destroyVmDisk,
  powerOffVm,
  rebootVm,
  shutdownVm,
  VmAccelerator,
  VmDisk,
  vmEvidence,
  vmExec,
} from "./vm";
import type { VmImage } from "./vm-image";
import { prepareVmNetwork, VmNet } from "./vm-network";

/**
 * How a member's instance runs: a container (systemd-nspawn, the default: seconds to boot) or a
 * full VM (qemu: its own kernel, for what only a kernel makes real, and minutes under TCG).
 */
export type MachineKind = "container" | "vm";

/** A member's machine as the lab's state records it: what EC2 knows of the instance, and where its disk and console are. */
export interface LabMachine extends MachineIdentity {
  readonly kind: MachineKind;
  readonly dir: string;
  readonly consoleLog: string;
  readonly disk: MachineDisk | VmDisk;
  /** A VM's address, which its guest holds (a container's is its namespace's). */
  readonly net?: VmNet;
}

/**
 * An EBS volume attached to the machine's instance, as its runner gets it: a VM's qemu takes the
 * file as an NVMe drive whose serial is the volume id (as on Nitro); a container gets the loop
 * device's node, and at a later boot the mount its guest's fstab names (systemd does not mount
 * fstab's devices in a container, systemd#34344), made by the lab and bound in.
 */
export interface AttachedVolume {
  readonly volumeId: string;
  readonly file: string;
  /** Containers: the host loop device that carries the file. */
  readonly loopDevice?: string;
  /** Containers: a host directory where the volume is mounted, and where the guest's fstab wants it. */
  readonly bind?: { readonly source: string; readonly target: string };
}

/** What the lab does to a machine, whatever kind it is. */
export interface MachineDriver {
  readonly kind: MachineKind;
  /** Its disk, with cloud-init's NoCloud seed on it. */
  create(machine: LabMachine, netns: string): void;
  /** Boots it from its disk, with its volumes, detached from this process; the machine's process (nspawn or qemu). */
  boot(machine: LabMachine, netns: string, volumes: readonly AttachedVolume[]): ProcessIdentity;
  /** Attaches a volume to the running machine, as EC2 does to a running instance. */
  attach(p: ProcessIdentity, machine: LabMachine, volume: AttachedVolume): Promise<void>;
  /** Resolves once the machine runs (RunInstances' "running"), not once it has finished booting. */
  waitStarted(p: ProcessIdentity, machine: LabMachine, timeoutMs: number): Promise<void>;
  exec(p: ProcessIdentity, machine: LabMachine, argv: string[], options?: RunOptions): Promise<CommandResult>;
  /** The host pid of etcd, where the host can see it (containers). */
  etcdPid(p: ProcessIdentity): number | undefined;
  shutdown(p: ProcessIdentity, machine: LabMachine, timeoutMs: number): Promise<void>;
  powerOff(p: ProcessIdentity): Promise<void>;
  /** The guest's own `systemctl reboot`; returns the machine's process once it boots again. */
  reboot(
    p: ProcessIdentity,
    machine: LabMachine,
    netns: string,
    timeoutMs: number,
    volumes: () => readonly AttachedVolume[]
  ): Promise<ProcessIdentity>;
  evidence(p: ProcessIdentity, machine: LabMachine, unit: string): Promise<string>;
  /** After the machine halted: what its runner leaves behind. */
  halted(machine: LabMachine): void;
  destroy(machine: LabMachine): void;
}

export function containerDriver(image: MachineImage): MachineDriver {
  const driver: MachineDriver = {
    kind: "container",
    create: (m) => void createMachineDisk(image, m.dir, m),
    boot: (m, netns, volumes) =>
      bootMachine({
        disk: m.disk as MachineDisk,
        identity: m,
        netns,
        consoleLog: m.consoleLog,
        binds: volumes.flatMap((v) => (v.bind ? [v.bind] : [])),
      }),
    async attach(p, _m, volume) {
      const r = await machineExec(p, ["sh", "-c", deviceNodeScript(volume.volumeId, volume.loopDevice!)], { timeoutMs: 10_000 });
      if (r.code !== 0) throw new Error(`cannot attach ${volume.volumeId} (${volume.loopDevice}) to the machine: ${r.stderr.trim()}`);
    },
    async waitStarted(p, m, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (machineInit(p) === undefined) {
        if (!isAlive(p) || Date.now() > deadline)
          throw new Error(`the machine did not boot; its console ends:\n${consoleTail(m.consoleLog)}`);
        await sleep(20);
      }
    },
    exec: (p, _m, argv, options) => machineExec(p, argv, options),
    etcdPid: (p) => machineProcess(p, "etcd"),
    shutdown: (p, _m, timeoutMs) => shutdownMachine(p, timeoutMs),
    powerOff: (p) => powerOffMachine(p),
    async reboot(p, m, netns, timeoutMs, volumes) {
      await machineExec(p, ["systemctl", "reboot"], { timeoutMs: 10_000 });
      // nspawn exits when its machine reboots (status 133): booting it again is the caller's part.
      if (!(await waitExit(p, timeoutMs))) await powerOffMachine(p);
      releaseMachine(m.instanceId);
      return driver.boot(m, netns, volumes());
    },
    evidence: (p, m, unit) => machineEvidence(p, m.consoleLog, unit),
    halted: (m) => releaseMachine(m.instanceId),
    destroy(m) {
      releaseMachine(m.instanceId);
      destroyMachineDisk(m.disk as MachineDisk);
    },
  };
  return driver;
}

export function vmDriver(image: VmImage, accelerator: VmAccelerator): MachineDriver {
  return {
    kind: "vm",
    create(m, netns) {
      createVmDisk(image, m.dir, m);
      prepareVmNetwork(netns);
    },
    boot: (m, netns, volumes) =>
      bootVm({ image, disk: m.disk as VmDisk, identity: m, netns, net: m.net!, consoleLog: m.consoleLog, accelerator, volumes }),
    attach: (_p, m, volume) => hotplugVmVolume((m.disk as VmDisk).dir, volume),
    async waitStarted(p, m) {
      if (!isAlive(p)) throw new Error(`qemu exited at once; the console ends:\n${consoleTail(m.consoleLog)}`);
    },
    exec: (p, m, argv, options) => vmExec(p, m.dir, argv, options),
    etcdPid: () => undefined,
    shutdown: (p, m, timeoutMs) => shutdownVm(p, m.dir, timeoutMs),
    powerOff: (p) => powerOffVm(p),
    async reboot(p, m, _netns, timeoutMs) {
      // qemu resets in place: the same process runs the next boot.
      await rebootVm(p, m.dir, timeoutMs);
      return p;
    },
    evidence: (p, m, unit) => vmEvidence(p, m.dir, m.consoleLog, unit),
    halted: () => undefined,
    destroy: (m) => destroyVmDisk(m.disk as VmDisk),
  };
}
