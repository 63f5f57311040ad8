import { createHash } from "node:crypto";
import { spawn } from "node:child_process";
import {
  appendFileSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { cidrContains, parseCidr, parseIpv4 } from "../net/ipv4";
import { labHandlers, type LabCloud } from "./aws-standin";
import { CommandResult, hostPath, run, RunOptions, runSync, sleep } from "./command";
import { alreadyRunning, hostTools, preflight, validateHost, validateMember, type LabTools } from "./host-checks";
import { claimHostDirs, releaseHostDirs } from "./host-dirs";
import { consoleTail, isMounted, MachineDisk } from "./machine/container";
import { AttachedVolume, containerDriver, LabMachine, MachineDriver, MachineKind, vmDriver } from "./machine/driver";
import { LAB_S3_PORT } from "./machine/aws-cli";
import { ensureMachineImage } from "./machine/image";
import { vmAccelerator } from "./machine/vm";
import { ensureVmImage } from "./machine/vm-image";
import { labReleases } from "./machine/release-mirror";
import {
  addEndpoint,
  addMetadataAddress,
  createBridgeAndDeployer,
  deleteNamespaces,
  existingNamespaces,
  LabNetwork,
  memberEndpoint,
  planLabNetwork,
  METADATA_IP,
  routeMetadata,
  setBridgePort,
} from "./network";
import { identify, isAlive, ProcessIdentity, signalAndWait } from "./process-identity";
import { deriveSchema, startProviderServer } from "./provider";
import { LabS3Client } from "./s3-client";
import { clientUrl, LabMember, LabStack, readLabStack } from "./stack";
import { labHome, LabState, readLabState, validateLabName, writeLabState } from "./state";
import { readState, runTerraform, terraformTool, type TerraformRun } from "./terraform";
import { attachLoop, createVolumeFile, deleteVolumeFile, detachLoop, filesystemUuid, fstabMountPoint, type LabAttachment } from "./volumes";

export interface LabDeployOptions {
  /** A synthesized stack directory (holding cdk.tf.json): where `cdktf deploy` would run Terraform. */
  readonly stackDir: string;
  /**
   * The PKI directory: ca.pem, admin.pem and admin-key.pem are the operator's etcdctl credentials.
   * @default the directory the stack's etcdctl_environment output names (see the CLI); required when the lab is new
   */
  readonly pkiDirectory?: string;
  /** Names /run/<labName> and prefixes the lab's network namespaces, so labs can coexist. @default "etcdlab" */
  readonly labName?: string;
  /** Progress lines: the lab's steps and Terraform's own output. @default written to stderr */
  readonly log?: (line: string) => void;
  /** How long to wait, after the apply, for every member to be healthy. @default 60000, 900000 for VMs */
  readonly healthyTimeoutMs?: number;
  /** Aborting interrupts Terraform as Ctrl-C does (SIGINT): it stops gracefully and saves its state. */
  readonly signal?: AbortSignal;
  /**
   * What each member's instance is, fixed when the lab is created: a systemd-nspawn container, or
   * a full qemu VM with its own kernel (KVM where it works, else TCG: minutes per boot).
   * @default "container"
   */
  readonly machine?: MachineKind;
  /**
   * Where the deployer (Terraform and its provisioners) stands, fixed when the lab is created:
   * "inside" the VPC (a bastion, a VPN: it reaches the members' IPs), or "outside" (a laptop, a
   * CI runner: no route to them, only AWS's APIs).
   * @default "inside"
   */
  readonly deployer?: "inside" | "outside";
}

/** One datum a member put to CloudWatch, as the lab's endpoint recorded it. */
export interface LabMetric {
  readonly at: string;
  readonly member: string;
  readonly instanceId: string;
  readonly namespace: string;
  readonly name: string;
  readonly value: number;
  readonly unit: string | null;
  readonly dimensions: Record<string, string>;
}

export const DEFAULT_LAB = "etcdlab";
/** Restarts of etcd's unit after which waitHealthy gives up on a member (RestartSec=5s: about 15 s of failing). */
const CRASH_LOOP_RESTARTS = 3;
const OPEN_LABS = new Map<string, Lab>();

/** The same lab, not one taken down and made again under its name (by another process). */
function sameLab(a: LabState, b: LabState): boolean {
  return a.network.deployer.netns === b.network.deployer.netns && a.pkiDirectory === b.pkiDirectory && a.createdAt === b.createdAt;
}
const stderrLog = (line: string): void => void process.stderr.write(line + "\n");

/** Terraform exited non-zero: its own output (already streamed) says why. */
export class TerraformFailed extends Error {
  constructor(readonly command: string, readonly exitCode: number) {
    super(`terraform ${command} exited with ${exitCode}: see its output above`);
  }
}

/**
 * `cdktf deploy` of a synthesized stack, with the lab standing in for AWS: the real Terraform runs
 * `init` and `apply` in the stack directory, against the lab's aws provider. A lab that is not
 * running yet is created first (its bridge and the deployer's namespace; members join as Terraform
 * creates their instances). Then it waits until every member is healthy.
 */
export async function labDeploy(options: LabDeployOptions): Promise<Lab> {
  const name = options.labName ?? DEFAULT_LAB;
  const log = options.log ?? stderrLog;
  const lab = readLabState(name)
    ? Lab.attach(name)
    : await createLab(name, options.stackDir, options.pkiDirectory, options.machine ?? "container", options.deployer ?? "inside", log);
  await lab.terraform(options.stackDir, ["apply", "-auto-approve", "-input=false", "-no-color"], { log, signal: options.signal });
  const t = Date.now();
  // A member the operator stopped (`lab stop`) is not Terraform's business, nor this wait's; one
  // that exited by itself is, and the wait fails quoting its log.
  const running = lab.memberNames.filter((m) => !lab.isStopped(m));
  // Under TCG a VM takes minutes to boot, run cloud-init and start etcd.
  await lab.waitHealthy(running, options.healthyTimeoutMs ?? (lab.machineKind === "vm" ? 900_000 : 60_000));
  const stopped = lab.memberNames.length - running.length;
  log(`[lab ${name}] ${running.length} running members healthy${stopped ? `, ${stopped} stopped` : ""} (${Date.now() - t} ms)`);
  return lab;
}

/** A deploy to a lab that does not exist yet: refused when one of that name runs. */
export async function labUp(options: LabDeployOptions): Promise<Lab> {
  const name = options.labName ?? DEFAULT_LAB;
  validateLabName(name);
  if (readLabState(name)) throw alreadyRunning(name);
  return labDeploy(options);
}

/**
 * `cdktf destroy`: the real `terraform destroy` of the stack. Once nothing of it is left, the lab
 * itself (bridge, deployer) goes too.
 */
export async function labDestroy(
  options: Omit<LabDeployOptions, "pkiDirectory" | "healthyTimeoutMs" | "machine" | "deployer">
): Promise<void> {
  const name = options.labName ?? DEFAULT_LAB;
  const log = options.log ?? stderrLog;
  const lab = Lab.attach(name);
  const t = Date.now();
  await lab.terraform(options.stackDir, ["destroy", "-auto-approve", "-input=false", "-no-color"], { log, signal: options.signal });
  log(`[lab ${name}] terraform destroy finished in ${seconds(Date.now() - t)}`);
  if (lab.memberNames.length === 0) await labDown(name, { log });
}

/** The lab's network and home, for a stack: nothing of it exists yet. */
async function createLab(
  name: string,
  stackDir: string,
  pkiDirectory: string | undefined,
  machine: MachineKind,
  deployer: "inside" | "outside",
  log: (line: string) => void
): Promise<Lab> {
  if (machine !== "container" && machine !== "vm") {
    throw new Error(`machine is ${JSON.stringify(machine)} but must be "container" or "vm": pick one (or leave it out for containers)`);
  }
  if (deployer !== "inside" && deployer !== "outside") {
    throw new Error(
      `deployer is ${JSON.stringify(deployer)} but must be "inside" or "outside" (the VPC): pick one (or leave it out for inside)`
    );
  }
  const tools = preflight(name);
  terraformTool();
  if (!pkiDirectory) throw new Error(`lab "${name}" is not running: give the PKI directory to create it`);
  const stack = readLabStack(stackDir);
  const network = planLabNetwork(name, stack, { deployerOutside: deployer === "outside" });
  validateHost(name, stack, network, pkiDirectory);
  // Caches outside the lab, made before anything of it exists: they outlive `lab down`.
  const image = await ensureMachineImage({ log });
  const vm = machine === "vm" ? await ensureVmImage({ log }) : undefined;
  const accelerator = vm ? vmAccelerator(vm) : undefined;
  if (accelerator) log(`[lab ${name}] VMs run under ${accelerator.accel.toUpperCase()}: ${accelerator.why}`);
  const releases = labReleases();
  const release = releases[0];
  const home = labHome(name);
  const state: LabState = {
    name,
    stateDir: home,
    createdPaths: [home],
    namespaces: [],
    processes: {},
    pkiDirectory: resolve(pkiDirectory),
    createdAt: new Date().toISOString(),
    // Members join the network as their instances are created.
    network: { ...network, members: {} },
    members: {},
    instances: {},
    parameters: {},
    volumes: {},
    attachments: {},
    machines: {},
    machineKind: machine,
    image,
    ...(vm ? { vmImage: vm, accelerator } : {}),
    release,
    releases,
    region: "us-east-1",
  };
  try {
    // Atomic: of two labs with one name, one gets EEXIST.
    mkdirSync(home, { mode: 0o755 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") throw alreadyRunning(name);
    throw e;
  }
  writeLabState(state);
  try {
    const t = Date.now();
    claimHostDirs(name, [{ path: "/run/netns", becomesMountpoint: true }]);
    createBridgeAndDeployer(state.network, (netns) => {
      state.namespaces.push(netns);
      writeLabState(state);
    });
    addMetadataAddress(state.network);
    mkdirSync(join(home, "ssm"), { mode: 0o700 });
    mkdirSync(join(home, "s3"), { mode: 0o700 });
    mkdirSync(join(home, "volumes"), { mode: 0o700 });
    mkdirSync(join(home, "mounts"), { mode: 0o700 });
    writeFileSync(join(home, "terraform.rc"), "");
    const where = network.observer ? ` outside the VPC (no route to the members; lab probes from ${network.observer.ip})` : "";
    log(`[lab ${name}] network ${network.cidr}: bridge + deployer ${network.deployer.ip}${where} (${Date.now() - t} ms)`);
    const lab = new Lab(state, tools);
    OPEN_LABS.set(name, lab);
    await lab.startAwsEndpoint();
    log(
      `[lab ${name}] AWS endpoint (instance metadata, SSM, CloudWatch, ${
        lab.hasS3 ? `S3 on :${LAB_S3_PORT}` : "no S3: see its log"
      }, etcd ${releases.map((r) => r.version).join(" and ")} mirror) on ${METADATA_IP}; ${
        machine === "vm" ? `VMs boot image ${vm!.id}` : `containers boot image ${image.id}`
      }`
    );
    return lab;
  } catch (e) {
    log(`[lab ${name}] failed, tearing down: ${(e as Error).message}`);
    await labDown(name, { log });
    throw e;
  }
}

/**
 * Stops every process the lab started and removes every namespace, mount point and path it created,
 * and nothing else. Works from the state file alone, so also after a crash; a no-op if nothing is left.
 */
export async function labDown(labName: string = DEFAULT_LAB, options: { log?: (line: string) => void } = {}): Promise<void> {
  validateLabName(labName);
  OPEN_LABS.delete(labName);
  const log = options.log ?? stderrLog;
  const started = Date.now();
  const state = readLabState(labName);
  if (state) {
    // Power off, not shut down: the lab's data goes anyway, and a SIGTERM'd leader spends ~7 s
    // trying to hand its leadership to members that are stopping too.
    await Promise.all(
      Object.entries(state.processes)
        .filter(([, p]) => isAlive(p))
        .map(async ([member, p]) => {
          await driverOf(state).powerOff(p);
          log(`[lab ${labName}] powered off ${member} (pid ${p.pid})`);
        })
    );
    const endpoint = state.awsEndpoint;
    if (endpoint && !(await signalAndWait(endpoint, "SIGKILL", 5_000)))
      throw new Error(`the lab's AWS endpoint (pid ${endpoint.pid}) survived SIGKILL`);
    // Before anything under the lab's home is removed: a volume mounted there would go with it.
    releaseVolumes(state);
    for (const machine of Object.values(state.machines ?? {})) driverOf(state).destroy(machine);
    deleteNamespaces(state.namespaces);
  }
  const { left } = releaseHostDirs(labName);
  for (const dir of left) log(`[lab ${labName}] left ${dir} in place: something else put files in it`);
  if (state) {
    for (const path of [...state.createdPaths].reverse()) {
      if (path.split("/").length < 3) throw new Error(`refusing to remove ${path}`);
      rmSync(path, { recursive: true, force: true });
    }
    log(`[lab ${labName}] down (${Date.now() - started} ms)`);
  } else if (existsSync(labHome(labName))) {
    // A labUp that died between creating its home and writing the state file leaves it empty.
    rmdirSync(labHome(labName));
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)}s`;
}

/** Unmounts every volume the lab mounted for a container and frees every loop device it set up. */
function releaseVolumes(state: LabState): void {
  for (const attachment of Object.values(state.attachments ?? {})) {
    unmountVolume(state, attachment.volumeId);
    detachLoop(attachment, state.volumes?.[attachment.volumeId]);
  }
}

/** Where the lab mounts a container's volume for its guest's fstab (see AttachedVolume). */
function volumeMount(state: LabState, volumeId: string): string {
  return join(state.stateDir, "mounts", volumeId);
}

function unmountVolume(state: LabState, volumeId: string): void {
  const mount = volumeMount(state, volumeId);
  if (isMounted(mount)) runSync(["umount", mount]);
  if (isMounted(mount)) throw new Error(`${mount} is still mounted: not going on, the volume's data would be removed with the lab`);
}

/** How this lab's machines run. */
function driverOf(state: LabState): MachineDriver {
  if (state.machineKind === "vm") return vmDriver(state.vmImage!, state.accelerator!);
  return containerDriver(state.image);
}

/** The unit the member's user data writes (etcd.service). */
function unitName(m: LabMember): string {
  return m.unit.path.split("/").pop() ?? "etcd.service";
}

/** Removes `item` from an array the state holds (its fields are readonly references to mutable arrays). */
function drop(list: string[], item: string): void {
  const i = list.indexOf(item);
  if (i >= 0) list.splice(i, 1);
}

/**
 * A running lab: the operator's view (etcdctl from the deployer namespace), fault primitives, and
 * `apply` of later syntheses of its stack. Its state lives in /run/<name>/state.json, so another
 * process can operate it (Lab.attach); a Lab object does not see changes another process makes.
 */
export class Lab {
  /** @internal labUp and Lab.attach create labs. */
  constructor(private readonly state: LabState, private readonly tools: LabTools) {}

  /** The running lab `labName`, rebuilt from its state file (for a process other than the one that ran labUp). */
  static attach(labName: string = DEFAULT_LAB): Lab {
    validateLabName(labName);
    const tools = hostTools();
    const state = readLabState(labName);
    if (!state) throw new Error(`no lab "${labName}" is running (${labHome(labName)}/state.json does not exist)`);
    // One object per lab and process: a deploy through one and a fault through another must not
    // each write back a state the other has moved on from.
    const open = OPEN_LABS.get(labName);
    if (open && sameLab(open.state, state)) return open;
    const lab = new Lab(state, tools);
    OPEN_LABS.set(labName, lab);
    return lab;
  }

  get name(): string {
    return this.state.name;
  }

  get stateDir(): string {
    return this.state.stateDir;
  }

  get pkiDirectory(): string {
    return this.state.pkiDirectory;
  }

  get network(): LabNetwork {
    return this.state.network;
  }

  /** The stack directory last applied. */
  get stackDir(): string | undefined {
    return this.state.stackDir;
  }

  /** The members whose instances exist, as they were launched. */
  get stack(): LabStack {
    const { cidr, prefixLength } = this.state.network;
    return { stackDir: this.state.stackDir ?? "", members: Object.values(this.state.members), cidr, prefixLength };
  }

  get memberNames(): string[] {
    return Object.keys(this.state.members).sort();
  }

  /** Directories this lab created (they are gone after labDown). */
  get createdPaths(): string[] {
    return [...this.state.createdPaths];
  }

  member(name: string): LabMember {
    const m = this.state.members[name];
    if (!m) throw new Error(`no member "${name}" in lab ${this.name} (members: ${this.memberNames.join(", ")})`);
    return m;
  }

  clientUrl(member: string): string {
    return clientUrl(this.member(member));
  }

  /** The member's machine: its instance id, disk and console. */
  machine(member: string): LabMachine {
    return this.state.machines[this.member(member).name];
  }

  /** A container's root filesystem, as the host sees it (mounted while its instance exists). */
  memberRoot(member: string): string {
    const machine = this.machine(member);
    if (machine.kind !== "container") throw new Error(`${member} is a VM: its filesystem is inside it (see machineExec)`);
    return (machine.disk as MachineDisk).rootfs;
  }

  get machineKind(): MachineKind {
    return this.state.machineKind;
  }

  /** The machine's console: systemd's and cloud-init's output, across boots. */
  consoleLog(member: string): string {
    return this.machine(member).consoleLog;
  }

  /** The AWS endpoint's request log: one line per call, with its source address and API action. */
  awsEndpointLog(): string {
    return readFileSync(join(labHome(this.name), "aws-endpoint.log"), "utf8");
  }

  /** Whether the lab runs S3 (s3rver could be required): without it, buckets are recorded only. */
  get hasS3(): boolean {
    return existsSync(join(labHome(this.name), "s3.sock"));
  }

  /** The lab's S3, as the members' uploads left it (over a Unix socket: nothing on the host talks to the lab's addresses). */
  get s3(): LabS3Client {
    if (!this.hasS3)
      throw new Error(`lab ${this.name} has no S3 (s3rver could not be required: see ${join(labHome(this.name), "aws-endpoint.log")})`);
    return new LabS3Client(join(labHome(this.name), "s3.sock"));
  }

  /** The CloudWatch metrics members put so far (PutMetricData), in order. */
  metrics(): LabMetric[] {
    const file = join(labHome(this.name), "metrics.jsonl");
    if (!existsSync(file)) return [];
    return readFileSync(file, "utf8")
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => JSON.parse(line) as LabMetric);
  }

  /** The host pid of the etcd process in the member's machine, while one runs. */
  pid(member: string): number | undefined {
    const p = this.state.processes[this.member(member).name];
    return p && isAlive(p) ? this.driver.etcdPid(p) : undefined;
  }

  /** Whether the member's machine is up (whatever its etcd does). */
  isRunning(member: string): boolean {
    const p = this.state.processes[this.member(member).name];
    return p !== undefined && isAlive(p);
  }

  /** Stopped or powered off through the lab (`lab stop|kill`), as opposed to running or halted by itself. */
  isStopped(member: string): boolean {
    return this.state.processes[this.member(member).name] === undefined;
  }

  /** Runs a command inside the member's machine, as root (what `aws ssm send-command` or a shell on it would). */
  machineExec(member: string, argv: string[], options: RunOptions = {}): Promise<CommandResult> {
    const p = this.state.processes[this.member(member).name];
    if (!p || !isAlive(p)) return Promise.resolve({ stdout: "", stderr: `${member}'s machine is not running`, code: null });
    return this.driver.exec(p, this.machine(member), argv, options);
  }

  /** cloud-init's verdict, the failed units and etcd's journal, read inside the machine (or its console when it is down). */
  evidence(member: string): Promise<string> {
    const m = this.member(member);
    const p = this.state.processes[m.name];
    if (!p || !isAlive(p))
      return Promise.resolve(`${m.name}'s machine is not running; its console ends:\n${consoleTail(this.consoleLog(m.name))}`);
    return this.driver.evidence(p, this.machine(m.name), unitName(m));
  }

  /** Runs a command in a member's, the deployer's or the observer's network namespace. */
  exec(target: string, argv: string[], options: RunOptions = {}): Promise<CommandResult> {
    const netns =
      target === "deployer"
        ? this.network.deployer.netns
        : target === "observer"
        ? this.network.observer?.netns ?? this.network.deployer.netns
        : this.network.members[this.member(target).name].netns;
    return run(["ip", "netns", "exec", netns, ...argv], options);
  }

  /** etcdctl (API v3) with the admin certificate, against every member unless told: from the deployer, or the observer when the deployer has no route. */
  etcdctl(args: string[], options: { endpoints?: string[]; timeoutMs?: number } = {}): Promise<CommandResult> {
    const endpoints = options.endpoints ?? this.memberNames.map((m) => this.clientUrl(m));
    const pki = this.pkiDirectory;
    const argv = [
      this.tools.etcdctl,
      `--endpoints=${endpoints.join(",")}`,
      `--cacert=${join(pki, "ca.pem")}`,
      `--cert=${join(pki, "admin.pem")}`,
      `--key=${join(pki, "admin-key.pem")}`,
      ...args,
    ];
    // Only PATH and the API version: ETCDCTL_* variables of the caller must not leak in.
    return this.exec("observer", argv, { env: { PATH: hostPath(), ETCDCTL_API: "3" }, timeoutMs: options.timeoutMs });
  }

  /** The operator's view: member list, cluster health and endpoint status. */
  async status(): Promise<string> {
    const views = [
      ["member", "list", "-w", "table"],
      ["endpoint", "health", "--cluster"],
      ["endpoint", "status", "--cluster", "-w", "table"],
    ];
    const out: string[] = [];
    for (const args of views) {
      const r = await this.etcdctl([...args, "--dial-timeout=2s", "--command-timeout=5s"]);
      out.push(`$ etcdctl ${args.join(" ")}\n${r.stdout}${r.stderr}`.trimEnd());
    }
    return out.join("\n\n") + "\n";
  }

  /** The member that leads, as the reachable `members` report it; undefined while there is none. */
  async leader(members: string[] = this.memberNames): Promise<string | undefined> {
    const r = await this.etcdctl(["endpoint", "status", "-w", "json", "--dial-timeout=1s", "--command-timeout=2s"], {
      endpoints: members.map((m) => this.clientUrl(m)),
    });
    // Member ids are uint64s, beyond a JSON number's precision: compare them as strings.
    const json = r.stdout.replace(/"(member_id|leader)":(\d+)/g, '"$1":"$2"') || "[]";
    const statuses = JSON.parse(json) as { Endpoint: string; Status: { header: { member_id: string }; leader: string } }[];
    const leading = statuses.find((s) => s.Status.leader === s.Status.header.member_id);
    return leading && members.find((m) => this.clientUrl(m) === leading.Endpoint);
  }

  /** Polls until each member answers `endpoint health` from the deployer; fails fast if one exits. */
  async waitHealthy(members: string[] = this.memberNames, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let pending = members.map((m) => this.member(m).name);
    const lastError: Record<string, string> = {};
    for (;;) {
      const halted = pending.filter((m) => !this.isRunning(m));
      if (halted.length > 0) {
        const consoles = halted.map((m) => `${m}'s machine is not running; its console ends:\n${consoleTail(this.consoleLog(m))}`);
        throw new Error(consoles.join("\n"));
      }
      const results = await Promise.all(pending.map((m) => this.probeHealth(m)));
      results.forEach((r, i) => (lastError[pending[i]] = (r.stderr || r.stdout).trim()));
      pending = pending.filter((_, i) => results[i].code !== 0);
      if (pending.length === 0) return;
      // A unit systemd keeps restarting will not come up by waiting longer: say so now.
      const restarts = await Promise.all(pending.map((m) => this.unitRestarts(m)));
      const failing = pending.filter((_, i) => restarts[i] >= CRASH_LOOP_RESTARTS);
      if (failing.length > 0) {
        const detail = await Promise.all(
          failing.map(
            async (m) =>
              `--- ${m}: ${unitName(this.member(m))} failed and was restarted ${restarts[pending.indexOf(m)]} times\n${await this.evidence(
                m
              )}`
          )
        );
        throw new Error(`not healthy: ${failing.join(", ")} keep failing\n${detail.join("\n")}`);
      }
      if (Date.now() > deadline) {
        const detail = await Promise.all(pending.map(async (m) => `--- ${m}: ${lastError[m]}\n${await this.evidence(m)}`));
        throw new Error(`not healthy after ${timeoutMs / 1000} s: ${pending.join(", ")}\n${detail.join("\n")}`);
      }
      await sleep(200);
    }
  }

  /** Boots a stopped member's machine from its disk, as `aws ec2 start-instances` does. Does not wait: see waitHealthy. */
  start(member: string): void {
    const m = this.member(member);
    if (this.isRunning(m.name)) throw new Error(`${m.name} is already running`);
    this.state.processes[m.name] = this.boot(m.name);
    writeLabState(this.state);
    this.writeEndpointConfig();
  }

  /** An orderly shutdown of the member's machine (`aws ec2 stop-instances`): systemd stops etcd with SIGTERM. */
  async stop(member: string, timeoutMs = 30_000): Promise<void> {
    const p = this.running(member);
    await this.driver.shutdown(p, this.machine(member), timeoutMs);
    this.halted(member);
  }

  /** Power loss: the member's machine stops at once, etcd with it. */
  async kill(member: string): Promise<void> {
    await this.driver.powerOff(this.running(member));
    this.halted(member);
  }

  /**
   * `aws ec2 reboot-instances`: the machine's own `systemctl reboot`, then the same disk boots
   * again. cloud-init knows the instance and does not run its user data a second time.
   */
  async reboot(member: string, timeoutMs = this.machineKind === "vm" ? 600_000 : 30_000): Promise<void> {
    const m = this.member(member);
    const p = this.running(m.name);
    this.state.processes[m.name] = await this.driver.reboot(p, this.machine(m.name), this.network.members[m.name].netns, timeoutMs, () =>
      this.attachedVolumes(m.name)
    );
    writeLabState(this.state);
  }

  /** Deletes a stopped member's data (and WAL) directory, as a lost disk would. */
  wipe(member: string): void {
    const m = this.member(member);
    if (this.isRunning(m.name)) throw new Error(`${m.name} is running: stop or kill it before wiping its data`);
    for (const dir of [m.conf.ETCD_DATA_DIR, m.conf.ETCD_WAL_DIR]) {
      if (dir) rmSync(this.stoppedPath(m.name, dir), { recursive: true, force: true });
    }
  }

  /**
   * Where a path of a stopped container's filesystem is on the host: on the member's data volume
   * (which the lab then mounts, where the guest's fstab puts it) or on its root.
   */
  stoppedPath(member: string, guestPath: string): string {
    const m = this.member(member);
    if (this.isRunning(m.name)) throw new Error(`${m.name} is running: its files are its own until it stops`);
    const volume = this.attachedVolumes(m.name)
      .flatMap((v) => (v.bind ? [v.bind] : []))
      .find((b) => guestPath === b.target || guestPath.startsWith(`${b.target}/`));
    return volume ? join(volume.source, guestPath.slice(volume.target.length)) : join(this.memberRoot(m.name), guestPath);
  }

  /** Cuts the member off the network (its veth end on the bridge goes down); the process keeps running. */
  partition(member: string): void {
    setBridgePort(this.network, this.network.members[this.member(member).name], false);
  }

  /** Reconnects every partitioned member. */
  heal(): void {
    for (const endpoint of Object.values(this.network.members)) setBridgePort(this.network, endpoint, true);
  }

  down(options: { log?: (line: string) => void } = {}): Promise<void> {
    return labDown(this.name, options);
  }

  /**
   * Runs one terraform command in the stack directory, as `cdktf deploy` would there, from the
   * deployer's namespace and against the lab's aws provider, which is served by this process for
   * as long as the command runs. Throws TerraformFailed when it exits non-zero (`plan
   * -detailed-exitcode`'s 2, "changes", is returned rather than thrown).
   */
  async terraform(stackDir: string, args: string[], options: { log?: (line: string) => void; signal?: AbortSignal } = {}): Promise<number> {
    const say = (line: string) => (options.log ?? stderrLog)(`[lab ${this.name}] ${line}`);
    const dir = resolve(stackDir);
    return this.withProvider(dir, say, async (run) => {
      if (!existsSync(join(dir, ".terraform"))) {
        const init = await runTerraform(run, ["init", "-input=false", "-no-color"]);
        if (init !== 0) throw new TerraformFailed("init", init);
      }
      const code = await runTerraform({ ...run, signal: options.signal }, args);
      const detailed = args[0] === "plan" && args.includes("-detailed-exitcode");
      if (code !== 0 && !(detailed && code === 2)) throw new TerraformFailed(args[0], code);
      this.state.stackDir = dir;
      writeLabState(this.state);
      return code;
    });
  }

  /**
   * Serves the lab's aws provider for the stack while `body` runs: what a terraform run in the
   * deployer's namespace needs (the provider's reattach address, the lab's CLI configuration, the
   * lab's AWS endpoint), for this process's own runs or a command's that runs terraform itself.
   */
  async withProvider<T>(stackDir: string, log: (line: string) => void, body: (run: TerraformRun) => Promise<T>): Promise<T> {
    const dir = resolve(stackDir);
    const config = JSON.parse(readFileSync(join(dir, "cdk.tf.json"), "utf8")) as object;
    const providerLog = join(labHome(this.name), "provider.log");
    // What Terraform still has in state needs a schema too, so that it can be destroyed.
    const schema = deriveSchema(config, readState(dir));
    const server = await startProviderServer({
      socketPath: join(labHome(this.name), "provider.sock"),
      schema,
      handlers: labHandlers(this.cloud(), schema, log),
      log: (line) => appendFileSync(providerLog, `${new Date().toISOString()} ${line}\n`),
    });
    try {
      return await body({
        terraform: terraformTool(),
        stackDir: dir,
        netns: this.network.deployer.netns,
        reattach: server.reattach,
        cliConfigFile: join(labHome(this.name), "terraform.rc"),
        onLine: log,
        env: this.deployerAwsEnvironment(),
      });
    } finally {
      await server.close();
    }
  }

  /**
   * What the deployer's AWS CLI needs to reach this lab instead of AWS: the lab's endpoint (the
   * membership script passes it as --endpoint-url), credentials the endpoint accepts, and none of
   * the host's own AWS configuration.
   */
  deployerAwsEnvironment(): Record<string, string> {
    const home = labHome(this.name);
    return {
      ETCD_CLUSTER_AWS_CLI: this.tools.aws,
      AWS_ENDPOINT_URL: `http://${METADATA_IP}`,
      AWS_ACCESS_KEY_ID: "AKIALABDEPLOYER00000",
      AWS_SECRET_ACCESS_KEY: "lab-deployer-secret",
      AWS_REGION: this.state.region,
      AWS_CONFIG_FILE: join(home, "aws-config"),
      AWS_SHARED_CREDENTIALS_FILE: join(home, "aws-credentials"),
      AWS_EC2_METADATA_DISABLED: "true",
    };
  }

  /** What the lab's aws provider does to this lab: EC2 instances are members, SSM parameters files. */
  private cloud(): LabCloud {
    return {
      launch: async (member, instanceId, region, log) => {
        await this.launch(member, instanceId, region);
        const runner = this.machineKind === "vm" ? "qemu" : "systemd-nspawn";
        log(
          `running as ${instanceId}: machine ${this.machine(member.name).hostname}, ${runner} pid ${this.state.processes[member.name].pid}`
        );
      },
      terminate: (instanceId) => this.terminate(instanceId),
      instanceExists: (instanceId) => instanceId in this.state.instances,
      createVolume: (volumeId, sizeGiB) => this.createVolume(volumeId, sizeGiB),
      deleteVolume: (volumeId) => this.deleteVolume(volumeId),
      volumeExists: (volumeId) => volumeId in (this.state.volumes ?? {}),
      attachVolume: (volumeId, instanceId) => this.attachVolume(volumeId, instanceId),
      detachVolume: (volumeId, instanceId, stopInstance) => this.detachVolume(volumeId, instanceId, stopInstance),
      attachmentExists: (volumeId, instanceId) => this.state.attachments?.[volumeId]?.instanceId === instanceId,
      parameterExists: (name) => name in this.state.parameters,
      s3: this.hasS3 ? this.s3 : undefined,
      putParameter: (name, value) => {
        const file = join(labHome(this.name), "ssm", createHash("sha256").update(name).digest("hex"));
        writeFileSync(file, value, { mode: 0o600 });
        this.state.parameters[name] = file;
        writeLabState(this.state);
        this.writeEndpointConfig();
      },
      deleteParameter: (name) => {
        const file = this.state.parameters[name];
        if (file) rmSync(file, { force: true });
        delete this.state.parameters[name];
        writeLabState(this.state);
        this.writeEndpointConfig();
      },
    };
  }

  /** Refuses, before anything changes, a member the lab's network cannot hold. */
  private checkNewMember(m: LabMember): void {
    validateMember(m);
    const net = this.state.network;
    const ip = parseIpv4(m.privateIp)!;
    if (!cidrContains(parseCidr(net.cidr)!, ip)) {
      throw new Error(`${m.name}: ${m.privateIp} is outside the lab's network ${net.cidr}, fixed when the lab came up`);
    }
    if (m.privateIp === net.deployer.ip) throw new Error(`${m.name}: ${m.privateIp} is the lab deployer's address`);
    for (const other of Object.values(this.state.members)) {
      // EC2 refuses a second instance with a private IP in use; the lab refuses a second member of a name too.
      if (other.name === m.name) throw new Error(`${m.name} already runs in lab ${this.name} (instance ${this.instanceOf(m.name)})`);
      if (other.privateIp === m.privateIp) throw new Error(`${m.name}: ${m.privateIp} is already ${other.name}'s address`);
    }
    const netns = memberEndpoint(this.name, m.name, m.privateIp).netns;
    if (existingNamespaces().includes(netns)) throw new Error(`${m.name}: network namespace ${netns} already exists`);
  }

  private instanceOf(member: string): string | undefined {
    return Object.entries(this.state.instances).find(([, name]) => name === member)?.[0];
  }

  /**
   * The member's instance: its namespace on the bridge (with the metadata route), its disk (an
   * overlay of the lab's image with the user data as cloud-init's NoCloud seed), and its machine
   * booted. It resolves once systemd runs in it, as RunInstances returns once the instance runs:
   * cloud-init, the boot script and etcd are the machine's own business from there.
   */
  private async launch(m: LabMember, instanceId: string, region: string): Promise<void> {
    this.checkNewMember(m);
    const endpoint = memberEndpoint(this.name, m.name, m.privateIp);
    this.state.network.members[m.name] = endpoint;
    this.state.members[m.name] = m;
    this.state.instances[instanceId] = m.name;
    this.state.region = region;
    addEndpoint(this.state.network, m.name, endpoint, (netns) => {
      this.state.namespaces.push(netns);
      writeLabState(this.state);
    });
    const dir = join(this.state.stateDir, m.name);
    const identity = { instanceId, hostname: `ip-${m.privateIp.replace(/\./g, "-")}`, userData: m.userData };
    const vm = this.machineKind === "vm";
    const net = this.state.network;
    const machine: LabMachine = {
      ...identity,
      kind: this.machineKind,
      dir,
      consoleLog: join(dir, "console.log"),
      disk: vm
        ? { dir, overlay: join(dir, "disk.qcow2"), seed: join(dir, "seed.img") }
        : { dir, rootfs: join(dir, "rootfs"), image: this.state.image.rootfs },
      ...(vm ? { net: { ip: m.privateIp, prefixLength: net.prefixLength, gateway: net.deployer.ip } } : {}),
    };
    // A container's namespace holds its address; a VM's guest does, and routes metadata itself.
    if (!vm) routeMetadata(net, endpoint);
    // Recorded before the disk is made: labDown undoes what the state names.
    this.state.createdPaths.push(dir);
    this.state.machines[m.name] = machine;
    writeLabState(this.state);
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    this.driver.create(machine, endpoint.netns);
    const p = this.boot(m.name);
    this.state.processes[m.name] = p;
    writeLabState(this.state);
    this.writeEndpointConfig();
    try {
      await this.driver.waitStarted(p, machine, 10_000);
    } catch (e) {
      throw new Error(`${m.name}: ${(e as Error).message}`);
    }
  }

  /** Terminates the member's instance: an orderly shutdown, then its disk and namespace are deleted. */
  private async terminate(instanceId: string): Promise<void> {
    const member = this.state.instances[instanceId];
    // Already gone (lab down, or a VM terminated outside Terraform): as EC2, terminating it again is fine.
    if (member === undefined) return;
    const p = this.state.processes[member];
    const machine = this.state.machines[member];
    if (p && isAlive(p)) await this.driver.shutdown(p, machine, this.machineKind === "vm" ? 60_000 : 10_000);
    delete this.state.processes[member];
    if (machine) this.driver.destroy(machine);
    delete this.state.machines[member];
    const netns = this.state.network.members[member]?.netns ?? `${this.name}-${member}`;
    deleteNamespaces([netns]);
    drop(this.state.namespaces, netns);
    drop(this.state.createdPaths, join(this.state.stateDir, member));
    delete this.state.network.members[member];
    delete this.state.members[member];
    delete this.state.instances[instanceId];
    writeLabState(this.state);
    this.writeEndpointConfig();
  }

  /** How often systemd has restarted the member's etcd unit since its machine booted. */
  private async unitRestarts(member: string): Promise<number> {
    const r = await this.machineExec(member, ["systemctl", "show", "-p", "NRestarts", "--value", unitName(this.member(member))], {
      timeoutMs: 5_000,
    });
    return Number(r.stdout.trim()) || 0;
  }

  private async probeHealth(member: string): Promise<CommandResult> {
    // A probe started before etcd binds its client port sits out gRPC's reconnect backoff until its
    // timeout; waiting for the listening socket first keeps the wait close to etcd's own start-up time.
    const port = new URL(this.clientUrl(member)).port || "2379";
    // A VM's sockets are in its guest, not its namespace: there the probe goes straight to etcdctl.
    if (this.machineKind === "container") {
      const sockets = await this.exec(member, ["ss", "-Hltn"]);
      if (!sockets.stdout.split("\n").some((line) => line.split(/\s+/)[3]?.endsWith(`:${port}`))) {
        return { stdout: "", stderr: `not listening on port ${port} yet`, code: 1 };
      }
    }
    // Short: a member that is up but has no leader yet holds the probe until this timeout.
    return this.etcdctl(["endpoint", "health", "--dial-timeout=1s", "--command-timeout=1s"], {
      endpoints: [this.clientUrl(member)],
      timeoutMs: 5_000,
    });
  }

  private get driver(): MachineDriver {
    return driverOf(this.state);
  }

  private running(member: string): ProcessIdentity {
    const m = this.member(member);
    const p = this.state.processes[m.name];
    if (!p || !isAlive(p)) throw new Error(`${m.name}'s machine is not running`);
    return p;
  }

  private halted(member: string): void {
    const m = this.member(member);
    const instanceId = this.instanceOf(m.name);
    for (const a of Object.values(this.state.attachments ?? {})) if (a.instanceId === instanceId) unmountVolume(this.state, a.volumeId);
    delete this.state.processes[m.name];
    writeLabState(this.state);
    this.writeEndpointConfig();
    this.driver.halted(this.machine(m.name));
  }

  private boot(member: string): ProcessIdentity {
    return this.driver.boot(this.state.machines[member], this.network.members[member].netns, this.attachedVolumes(member));
  }

  /**
   * The volumes attached to the member's instance, as its runner takes them. A container's is
   * mounted where its guest's /etc/fstab says, if it says: what systemd would do at boot, and
   * does not in a container. A volume the guest has not put in its fstab is only a device, as on EC2.
   */
  private attachedVolumes(member: string): AttachedVolume[] {
    const instanceId = this.instanceOf(member);
    return Object.values(this.state.attachments ?? {})
      .filter((a) => a.instanceId === instanceId)
      .map((a) => {
        const file = this.state.volumes![a.volumeId].file;
        if (this.machineKind === "vm") return { volumeId: a.volumeId, file };
        return { volumeId: a.volumeId, file, loopDevice: a.loopDevice, bind: this.fstabMount(member, a) };
      });
  }

  private fstabMount(member: string, attachment: LabAttachment): AttachedVolume["bind"] {
    const uuid = attachment.loopDevice && filesystemUuid(attachment.loopDevice);
    const fstab = join(this.memberRoot(member), "etc", "fstab");
    const entry = uuid && existsSync(fstab) ? fstabMountPoint(readFileSync(fstab, "utf8"), uuid) : undefined;
    if (!entry) return undefined;
    const source = volumeMount(this.state, attachment.volumeId);
    mkdirSync(source, { recursive: true, mode: 0o700 });
    if (!isMounted(source)) runSync(["mount", "-t", entry.type, attachment.loopDevice!, source]);
    return { source, target: entry.mountPoint };
  }

  /** CreateVolume: a blank volume. */
  private createVolume(volumeId: string, sizeGiB: number): void {
    // A lab made before volumes has neither record.
    if (!this.state.volumes || !this.state.attachments) Object.assign(this.state, { volumes: {}, attachments: {} });
    this.state.volumes![volumeId] = createVolumeFile(join(this.state.stateDir, "volumes"), volumeId, sizeGiB);
    writeLabState(this.state);
  }

  /** DeleteVolume: its data goes; EC2 refuses while the volume is attached. */
  private deleteVolume(volumeId: string): void {
    const volume = this.state.volumes?.[volumeId];
    if (!volume) return;
    const attached = this.state.attachments?.[volumeId];
    if (attached) throw new Error(`VolumeInUse: Volume ${volumeId} is currently attached to ${attached.instanceId}`);
    deleteVolumeFile(volume);
    delete this.state.volumes![volumeId];
    writeLabState(this.state);
  }

  /** AttachVolume, also to a running instance: the device appears in the machine, as EC2's does. */
  private async attachVolume(volumeId: string, instanceId: string): Promise<void> {
    const volume = this.state.volumes?.[volumeId];
    if (!volume) throw new Error(`InvalidVolume.NotFound: The volume '${volumeId}' does not exist.`);
    const member = this.state.instances[instanceId];
    if (member === undefined) throw new Error(`InvalidInstanceID.NotFound: The instance ID '${instanceId}' does not exist`);
    const existing = this.state.attachments![volumeId];
    if (existing) {
      if (existing.instanceId === instanceId) return;
      throw new Error(`VolumeInUse: ${volumeId} is already attached to an instance (${existing.instanceId})`);
    }
    const attachment: LabAttachment =
      this.machineKind === "vm" ? { volumeId, instanceId } : { volumeId, instanceId, loopDevice: attachLoop(volume) };
    this.state.attachments![volumeId] = attachment;
    writeLabState(this.state);
    const p = this.state.processes[member];
    if (p && isAlive(p)) {
      await this.driver.attach(p, this.machine(member), { volumeId, file: volume.file, loopDevice: attachment.loopDevice });
    }
  }

  /**
   * DetachVolume. With stopInstance (the attachment's stop_instance_before_detaching) a running
   * instance is stopped first, as the provider does, so its etcd shuts down before its disk goes.
   */
  private async detachVolume(volumeId: string, instanceId: string, stopInstance: boolean): Promise<void> {
    const attachment = this.state.attachments?.[volumeId];
    if (!attachment || attachment.instanceId !== instanceId) return;
    const member = this.state.instances[instanceId];
    if (member !== undefined && this.isRunning(member)) {
      if (!stopInstance) {
        throw new Error(
          `${volumeId} is in use by running ${member} (${instanceId}): the lab detaches only from a stopped instance; set stop_instance_before_detaching`
        );
      }
      await this.stop(member);
    }
    unmountVolume(this.state, volumeId);
    detachLoop(attachment, this.state.volumes?.[volumeId]);
    delete this.state.attachments![volumeId];
    writeLabState(this.state);
  }

  /**
   * Starts the lab's AWS endpoint in the deployer's namespace: a node process of its own, so that
   * machines reach it (a key fetched at boot, a `lab start` hours later) whatever process runs.
   */
  async startAwsEndpoint(): Promise<void> {
    this.writeEndpointConfig();
    const home = labHome(this.name);
    const logFile = join(home, "aws-endpoint.log");
    const log = openSync(logFile, "a");
    try {
      const script = join(__dirname, "machine", "aws-endpoint.js");
      const child = spawn("ip", ["netns", "exec", this.network.deployer.netns, process.execPath, script, join(home, "aws-endpoint.json")], {
        cwd: "/",
        env: { PATH: hostPath() },
        detached: true,
        stdio: ["ignore", log, log],
      });
      child.unref();
      if (child.pid === undefined) throw new Error("cannot start the lab's AWS endpoint");
      this.state.awsEndpoint = identify(child.pid);
      writeLabState(this.state);
    } finally {
      closeSync(log);
    }
    const deadline = Date.now() + 10_000;
    while (!readFileSync(logFile, "utf8").includes("listening")) {
      if (!isAlive(this.state.awsEndpoint!) || Date.now() > deadline) {
        throw new Error(`the lab's AWS endpoint did not start; its log:\n${readFileSync(logFile, "utf8")}`);
      }
      await sleep(50);
    }
  }

  /** What the AWS endpoint knows: re-read by it on every request. */
  private writeEndpointConfig(): void {
    const instances: Record<string, { instanceId: string; member: string; tags: Record<string, string>; state: "running" | "stopped" }> =
      {};
    for (const [name, machine] of Object.entries(this.state.machines)) {
      const member = this.state.members[name];
      const state = this.state.processes[name] ? "running" : "stopped";
      instances[member.privateIp] = { instanceId: machine.instanceId, member: name, tags: member.tags ?? {}, state };
    }
    const home = labHome(this.name);
    const config = {
      region: this.state.region,
      instances,
      parameters: this.state.parameters,
      releasesDirs: (this.state.releases ?? [this.state.release]).map((r) => r.mirrorDir),
      metricsFile: join(home, "metrics.jsonl"),
      s3: { dir: join(home, "s3"), socket: join(home, "s3.sock"), port: LAB_S3_PORT },
    };
    const file = join(home, "aws-endpoint.json");
    writeFileSync(`${file}.tmp`, JSON.stringify(config, null, 2), { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  }
}
