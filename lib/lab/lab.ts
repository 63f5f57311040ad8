import { existsSync, mkdirSync, readFileSync, rmdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { cidrContains, parseCidr, parseIpv4 } from "../net/ipv4";
import { AppliedResource, planApply } from "./apply-plan";
import { CommandResult, hostPath, run, RunOptions, runStreaming, sleep } from "./command";
import { walkGraph } from "./graph-walk";
import { alreadyRunning, hostTools, preflight, validateHost, validateMember, type LabTools } from "./host-checks";
import { claimHostDirs, releaseHostDirs } from "./host-dirs";
import { checkKeyFetch, keyFetchOf, providerRegion, readSsmParameters, runFetchKey } from "./key-delivery";
import { memberMountDirs, prepareMemberRoot } from "./member-root";
import { startMember } from "./member-process";
import {
  addEndpoint,
  createBridgeAndDeployer,
  deleteNamespaces,
  existingNamespaces,
  LabNetwork,
  memberEndpoint,
  planLabNetwork,
  setBridgePort,
} from "./network";
import { isAlive, signalAndWait } from "./process-identity";
import { clientUrl, LabMember, LabStack, readLabStack } from "./stack";
import { LocalExec, readStackResources, StackResource } from "./stack-resources";
import { labHome, LabState, readLabState, validateLabName, writeLabState } from "./state";

export interface LabUpOptions {
  /** A synthesized stack directory (holding cdk.tf.json). */
  readonly stackDir: string;
  /** The PKI directory: ca.pem, admin.pem and admin-key.pem are the operator's etcdctl credentials. */
  readonly pkiDirectory: string;
  /** Names /run/<labName> and prefixes the lab's network namespaces, so labs can coexist. @default "etcdlab" */
  readonly labName?: string;
  /** Where member roots and logs go. @default /run/<labName> */
  readonly stateDir?: string;
  /** Progress lines. @default written to stderr */
  readonly log?: (line: string) => void;
  /** How long to wait for every member to be healthy. @default 60000 */
  readonly healthyTimeoutMs?: number;
}

export interface ApplyOptions {
  /** Progress lines: one per step, and the provisioners' output. @default written to stderr */
  readonly log?: (line: string) => void;
}

/** One resource the apply created or destroyed, in the order the steps finished. */
export interface ApplyStep {
  readonly address: string;
  readonly action: "create" | "destroy";
  readonly durationMs: number;
}

export interface ApplyResult {
  readonly created: string[];
  readonly destroyed: string[];
  readonly unchanged: string[];
  readonly steps: ApplyStep[];
  readonly durationMs: number;
}

export const DEFAULT_LAB = "etcdlab";
const stderrLog = (line: string): void => void process.stderr.write(line + "\n");
/** Resource types whose creation and destruction the lab performs; others are recorded and nothing more. */
const MODELLED = new Set(["aws_instance", "terraform_data"]);

/**
 * Rehearses a synthesized etcd cluster on this host: every member runs the host's etcd as its
 * unit would, in its own network namespace holding its real private IP, on a bridge with no way out.
 * It creates the bridge and the deployer's namespace, applies the stack to an empty state (see
 * Lab.apply), then waits until every member is healthy: the bootstrap members start together, as
 * none can be healthy alone. On any failure, everything created so far is removed.
 */
export async function labUp(options: LabUpOptions): Promise<Lab> {
  const name = options.labName ?? DEFAULT_LAB;
  const log = options.log ?? stderrLog;
  const started = Date.now();
  const step = async <T>(what: string, action: () => T | Promise<T>): Promise<T> => {
    const t = Date.now();
    const result = await action();
    log(`[lab ${name}] ${what} (${Date.now() - t} ms)`);
    return result;
  };

  const tools = preflight(name);
  const stack = await step(`read ${options.stackDir}`, () => readLabStack(options.stackDir));
  const network = planLabNetwork(name, stack);
  validateHost(name, stack, network, options.pkiDirectory);

  const home = labHome(name);
  const stateDir = options.stateDir ?? home;
  const state: LabState = {
    name,
    stateDir,
    createdPaths: [home],
    namespaces: [],
    processes: {},
    pkiDirectory: resolve(options.pkiDirectory),
    // Members join the network as their instances are created.
    network: { ...network, members: {} },
    members: {},
    resources: {},
  };
  try {
    // Atomic: of two labUps with one name, one gets EEXIST.
    mkdirSync(home, { mode: 0o755 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") throw alreadyRunning(name);
    throw e;
  }
  writeLabState(state);

  try {
    await step(`network ${network.cidr}: bridge + deployer ${network.deployer.ip}`, () => {
      claimHostDirs(name, [{ path: "/run/netns", becomesMountpoint: true }]);
      createBridgeAndDeployer(state.network, (netns) => {
        state.namespaces.push(netns);
        writeLabState(state);
      });
      const created = mkdirSync(stateDir, { recursive: true, mode: 0o755 });
      if (created) state.createdPaths.push(created);
      writeLabState(state);
    });
    const lab = new Lab(state, tools);
    await lab.apply(options.stackDir, { log });
    await step("all members healthy", () => lab.waitHealthy(undefined, options.healthyTimeoutMs));
    log(`[lab ${name}] up in ${((Date.now() - started) / 1000).toFixed(2)} s`);
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
  const log = options.log ?? stderrLog;
  const started = Date.now();
  const state = readLabState(labName);
  if (state) {
    // SIGKILL: the lab's data goes anyway, and a SIGTERM'd leader spends ~7 s trying to hand its
    // leadership to members that are stopping too.
    await Promise.all(
      Object.entries(state.processes)
        .filter(([, p]) => isAlive(p))
        .map(async ([member, p]) => {
          if (!(await signalAndWait(p, "SIGKILL", 5_000))) throw new Error(`${member} (pid ${p.pid}) survived SIGKILL`);
          log(`[lab ${labName}] killed ${member} (pid ${p.pid})`);
        })
    );
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

function logTail(path: string, lines = 15): string {
  if (!existsSync(path)) return "(no log)";
  return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)}s`;
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
    return new Lab(state, tools);
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
    return Object.keys(this.state.members);
  }

  /** Terraform addresses the lab has applied (its state). */
  get appliedResources(): string[] {
    return Object.keys(this.state.resources);
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

  /** The member's root: its write_files and data directory, as its process sees them. */
  memberRoot(member: string): string {
    return join(this.state.stateDir, this.member(member).name, "root");
  }

  logPath(member: string): string {
    return join(this.state.stateDir, this.member(member).name, "etcd.log");
  }

  /** The member's etcd pid while it runs. */
  pid(member: string): number | undefined {
    const p = this.state.processes[this.member(member).name];
    return p && isAlive(p) ? p.pid : undefined;
  }

  isRunning(member: string): boolean {
    return this.pid(member) !== undefined;
  }

  /** Runs a command in a member's or the deployer's network namespace. */
  exec(target: string, argv: string[], options: RunOptions = {}): Promise<CommandResult> {
    const netns = target === "deployer" ? this.network.deployer.netns : this.network.members[this.member(target).name].netns;
    return run(["ip", "netns", "exec", netns, ...argv], options);
  }

  /** etcdctl (API v3) from the deployer namespace with the admin certificate, against every member unless told. */
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
    return this.exec("deployer", argv, { env: { PATH: hostPath(), ETCDCTL_API: "3" }, timeoutMs: options.timeoutMs });
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
      const exited = pending.filter((m) => !this.isRunning(m));
      if (exited.length > 0) {
        throw new Error(exited.map((m) => `${m} is not running; its log ends:\n${logTail(this.logPath(m))}`).join("\n"));
      }
      const results = await Promise.all(pending.map((m) => this.probeHealth(m)));
      results.forEach((r, i) => (lastError[pending[i]] = (r.stderr || r.stdout).trim()));
      pending = pending.filter((_, i) => results[i].code !== 0);
      if (pending.length === 0) return;
      if (Date.now() > deadline) {
        const detail = pending.map((m) => `${m}: ${lastError[m]}\n${m}'s log ends:\n${logTail(this.logPath(m))}`);
        throw new Error(`not healthy after ${timeoutMs / 1000} s: ${pending.join(", ")}\n${detail.join("\n")}`);
      }
      await sleep(200);
    }
  }

  /** Starts a stopped member (its data directory is kept). Does not wait: see waitHealthy. */
  start(member: string): void {
    const m = this.member(member);
    if (this.isRunning(m.name)) throw new Error(`${m.name} is already running`);
    this.state.processes[m.name] = startMember({
      member: m,
      netns: this.network.members[m.name].netns,
      root: this.memberRoot(m.name),
      mountDirs: memberMountDirs(m),
      logPath: this.logPath(m.name),
      etcdPath: this.tools.etcd,
    });
    writeLabState(this.state);
  }

  /** SIGTERM, as `systemctl stop` sends, and waits for the member to exit. */
  async stop(member: string, timeoutMs = 15_000): Promise<void> {
    await this.signal(member, "SIGTERM", timeoutMs);
  }

  /** SIGKILL: a crash. */
  async kill(member: string): Promise<void> {
    await this.signal(member, "SIGKILL", 5_000);
  }

  /** Deletes a stopped member's data (and WAL) directory, as a lost disk would. */
  wipe(member: string): void {
    const m = this.member(member);
    if (this.isRunning(m.name)) throw new Error(`${m.name} is running: stop or kill it before wiping its data`);
    for (const dir of [m.conf.ETCD_DATA_DIR, m.conf.ETCD_WAL_DIR]) {
      if (dir) rmSync(join(this.memberRoot(m.name), dir), { recursive: true, force: true });
    }
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
   * Applies a later synthesis of the stack the way Terraform orders it. Resources that exist in it
   * (count != 0) and not in the lab's state are created, each after everything it depends on; then
   * resources gone from it (or now count 0) are destroyed, each before what it depends on; the rest
   * is left alone, running members included. Steps without a dependency between them overlap, as
   * in Terraform. An `aws_instance` is a member: creating it starts etcd without waiting for health
   * (EC2 returns once the VM runs), destroying it kills etcd and removes its namespace and root. A
   * resource's `local-exec` provisioners run in the deployer's namespace, from the stack directory,
   * with PATH and their `environment`; a failing one stops the apply and taints its resource.
   */
  async apply(stackDir: string, options: ApplyOptions = {}): Promise<ApplyResult> {
    const started = Date.now();
    const say = (line: string) => (options.log ?? stderrLog)(`[lab ${this.name}] ${line}`);
    const dir = resolve(stackDir);
    const resources = readStackResources(dir);
    const launched = new Map(readLabStack(dir).members.map((m) => [`aws_instance.${m.logicalId}`, m]));
    const plan = planApply(this.state.resources, resources);
    const willExist = new Set([...plan.unchanged, ...plan.create]);
    for (const address of plan.create) {
      const member = launched.get(address);
      if (member) this.checkNewMember(member, plan.replace.includes(address), dir, willExist);
    }
    // As Terraform counts them: a replaced (tainted) resource is one to add and one to destroy.
    const destroying = plan.destroy.length + plan.replace.length;
    say(`plan for ${dir}: ${plan.create.length} to add, 0 to change, ${destroying} to destroy (${plan.unchanged.length} unchanged)`);
    const unmodelled = [...plan.create, ...plan.destroy].filter((a) => !this.isModelled(a, resources));
    if (unmodelled.length > 0) {
      const types = [...new Set(unmodelled.map((a) => a.split(".")[0]))];
      say(`${unmodelled.length} of them (${types.join(", ")}) are only recorded: the lab has nothing of them to create or destroy`);
    }

    const steps: ApplyStep[] = [];
    const timed = async (address: string, action: ApplyStep["action"], body: () => Promise<void>) => {
      const t = Date.now();
      await body();
      steps.push({ address, action, durationMs: Date.now() - t });
    };
    // A tainted resource is replaced: destroyed without its destroy-time provisioners, as Terraform does.
    for (const address of plan.replace) await this.destroyResource(address, resources.get(address), dir, say, true);
    await walkGraph(
      plan.create,
      (a) => resources.get(a)!.dependsOn,
      (a) => timed(a, "create", () => this.createResource(resources.get(a)!, launched.get(a), dir, say))
    );
    const destroyDeps = (a: string) => [...this.state.resources[a].dependsOn, ...(resources.get(a)?.dependsOn ?? [])];
    await walkGraph(
      plan.destroy,
      // Reversed: a resource goes once everything that depends on it has gone.
      (a) => plan.destroy.filter((other) => destroyDeps(other).includes(a)),
      (a) => timed(a, "destroy", () => this.destroyResource(a, resources.get(a), dir, say))
    );
    this.state.stackDir = dir;
    writeLabState(this.state);
    const durationMs = Date.now() - started;
    say(`Apply complete! Resources: ${plan.create.length} added, 0 changed, ${destroying} destroyed (${seconds(durationMs)})`);
    return { created: plan.create, destroyed: plan.destroy, unchanged: plan.unchanged, steps, durationMs };
  }

  private isModelled(address: string, resources: Map<string, StackResource>): boolean {
    const type = address.split(".")[0];
    const block = resources.get(address);
    return MODELLED.has(type) || (block !== undefined && (block.onCreate.length > 0 || block.onDestroy.length > 0));
  }

  /** Refuses, before anything changes, a member the lab's network cannot hold. */
  private checkNewMember(m: LabMember, replacing: boolean, stackDir: string, willExist: Set<string>): void {
    validateMember(m);
    const fetch = keyFetchOf(m);
    if (fetch) checkKeyFetch(m.name, fetch, readSsmParameters(stackDir, willExist));
    const net = this.state.network;
    const ip = parseIpv4(m.privateIp)!;
    if (!cidrContains(parseCidr(net.cidr)!, ip)) {
      throw new Error(`${m.name}: ${m.privateIp} is outside the lab's network ${net.cidr}, fixed when the lab came up`);
    }
    if (m.privateIp === net.deployer.ip) throw new Error(`${m.name}: ${m.privateIp} is the lab deployer's address`);
    for (const other of Object.values(this.state.members)) {
      if (replacing && other.name === m.name) continue;
      if (other.name === m.name) throw new Error(`${m.name} already runs in lab ${this.name} (from aws_instance.${other.logicalId})`);
      if (other.privateIp === m.privateIp) throw new Error(`${m.name}: ${m.privateIp} is already ${other.name}'s address`);
    }
    const netns = memberEndpoint(this.name, m.name, m.privateIp).netns;
    if (!replacing && existingNamespaces().includes(netns)) throw new Error(`${m.name}: network namespace ${netns} already exists`);
  }

  private async createResource(
    r: StackResource,
    member: LabMember | undefined,
    stackDir: string,
    say: (line: string) => void
  ): Promise<void> {
    const t = Date.now();
    const quiet = !MODELLED.has(r.type) && r.onCreate.length === 0;
    if (!quiet) say(`${r.address}: Creating...`);
    let detail = "";
    try {
      if (r.type === "aws_instance") {
        if (!member) throw new Error(`${r.address}: no member read from it`);
        const pid = await this.createInstance(member, stackDir, (line) => say(`${r.address}: ${line}`));
        detail = ` [id=${member.name}, etcd pid ${pid}; not waiting for health]`;
      }
      for (const p of r.onCreate) await this.localExec(r.address, p, stackDir, say);
    } catch (e) {
      // As Terraform: the resource exists but is tainted, and the next apply replaces it.
      this.state.resources[r.address] = { type: r.type, dependsOn: r.dependsOn, member: member?.name, tainted: true };
      writeLabState(this.state);
      say(`${r.address}: Creation failed after ${seconds(Date.now() - t)}`);
      throw e;
    }
    this.state.resources[r.address] = { type: r.type, dependsOn: r.dependsOn, member: member?.name };
    writeLabState(this.state);
    if (!quiet) say(`${r.address}: Creation complete after ${seconds(Date.now() - t)}${detail}`);
  }

  /**
   * Destroys a resource of the state. Its destroy-time provisioners come from its block in the new
   * stack: Terraform runs none for a resource whose block is gone (why the construct keeps count 0).
   */
  private async destroyResource(
    address: string,
    block: StackResource | undefined,
    stackDir: string,
    say: (line: string) => void,
    tainted = false
  ): Promise<void> {
    const t = Date.now();
    const applied: AppliedResource = this.state.resources[address];
    const quiet = !MODELLED.has(applied.type) && !block?.onDestroy.length;
    if (!quiet) say(`${address}: Destroying...${tainted ? " (tainted: no destroy-time provisioners)" : ""}`);
    if (!block && applied.type === "terraform_data") {
      say(`${address}: its block is gone from the stack: Terraform would run none of its destroy-time provisioners`);
    }
    if (!tainted) for (const p of block?.onDestroy ?? []) await this.localExec(address, p, stackDir, say);
    if (applied.type === "aws_instance" && applied.member) await this.destroyInstance(applied.member);
    delete this.state.resources[address];
    writeLabState(this.state);
    if (!quiet) say(`${address}: Destruction complete after ${seconds(Date.now() - t)}`);
  }

  /**
   * The member's VM: its namespace on the bridge, its root as cloud-init leaves it (its key fetched
   * by its boot script's fetch_key when the user data does not carry it), and etcd started.
   * Returns etcd's pid.
   */
  private async createInstance(m: LabMember, stackDir: string, say: (line: string) => void): Promise<number> {
    const endpoint = memberEndpoint(this.name, m.name, m.privateIp);
    this.state.network.members[m.name] = endpoint;
    this.state.members[m.name] = m;
    addEndpoint(this.state.network, m.name, endpoint, (netns) => {
      this.state.namespaces.push(netns);
      writeLabState(this.state);
    });
    const dir = join(this.state.stateDir, m.name);
    this.state.createdPaths.push(dir);
    writeLabState(this.state);
    prepareMemberRoot(m, join(dir, "root"));
    claimHostDirs(
      this.name,
      memberMountDirs(m).map((path) => ({ path }))
    );
    const fetch = keyFetchOf(m);
    if (fetch) {
      await runFetchKey({
        member: m,
        fetch,
        // The parameters created so far: the instance depends on its own, as in Terraform.
        parameters: readSsmParameters(stackDir, new Set(Object.keys(this.state.resources))),
        region: providerRegion(stackDir),
        netns: endpoint.netns,
        root: join(dir, "root"),
        mountDirs: memberMountDirs(m),
        workDir: join(dir, "boot"),
        onLine: say,
      });
    }
    this.start(m.name);
    return this.pid(m.name)!;
  }

  /** Terminates the member's VM: etcd killed (its disk goes with it), its namespace and root removed. */
  private async destroyInstance(member: string): Promise<void> {
    const p = this.state.processes[member];
    if (p && !(await signalAndWait(p, "SIGKILL", 5_000))) throw new Error(`${member} (pid ${p.pid}) survived SIGKILL`);
    delete this.state.processes[member];
    const netns = this.state.network.members[member]?.netns ?? `${this.name}-${member}`;
    deleteNamespaces([netns]);
    drop(this.state.namespaces, netns);
    const dir = join(this.state.stateDir, member);
    rmSync(dir, { recursive: true, force: true });
    drop(this.state.createdPaths, dir);
    delete this.state.network.members[member];
    delete this.state.members[member];
    writeLabState(this.state);
  }

  /** A local-exec provisioner, as Terraform runs it, from the deployer's namespace. */
  private async localExec(address: string, p: LocalExec, stackDir: string, say: (line: string) => void): Promise<void> {
    const netns = this.network.deployer.netns;
    const argv = [...p.interpreter, p.command];
    say(`${address} (local-exec): Executing in ${netns}: [${argv.map((a) => JSON.stringify(a)).join(" ")}]`);
    const r = await runStreaming(["ip", "netns", "exec", netns, ...argv], {
      cwd: p.workingDir ? resolve(stackDir, p.workingDir) : stackDir,
      env: { PATH: hostPath(), ...p.environment },
      // Terraform sets no time limit; the membership steps bound themselves (--timeout).
      timeoutMs: 3_600_000,
      onLine: (line) => say(`${address} (local-exec): ${line}`),
    });
    if (r.code === 0) return;
    const error = `${address}: local-exec provisioner error: ${argv.join(" ")} exited with ${r.code ?? "a signal"}:\n${r.stdout.trimEnd()}`;
    if (!p.continueOnFailure) throw new Error(error);
    say(`${error}\n(on_failure = continue)`);
  }

  private async probeHealth(member: string): Promise<CommandResult> {
    // A probe started before etcd binds its client port sits out gRPC's reconnect backoff until its
    // timeout; waiting for the listening socket first keeps the wait close to etcd's own start-up time.
    const port = new URL(this.clientUrl(member)).port || "2379";
    const sockets = await this.exec(member, ["ss", "-Hltn"]);
    if (!sockets.stdout.split("\n").some((line) => line.split(/\s+/)[3]?.endsWith(`:${port}`))) {
      return { stdout: "", stderr: `not listening on port ${port} yet`, code: 1 };
    }
    // Short: a member that is up but has no leader yet holds the probe until this timeout.
    return this.etcdctl(["endpoint", "health", "--dial-timeout=1s", "--command-timeout=1s"], {
      endpoints: [this.clientUrl(member)],
      timeoutMs: 5_000,
    });
  }

  private async signal(member: string, signal: NodeJS.Signals, timeoutMs: number): Promise<void> {
    const m = this.member(member);
    const p = this.state.processes[m.name];
    if (!p || !isAlive(p)) throw new Error(`${m.name} is not running`);
    if (!(await signalAndWait(p, signal, timeoutMs))) {
      throw new Error(`${m.name} (pid ${p.pid}) still runs ${timeoutMs / 1000} s after ${signal}`);
    }
    delete this.state.processes[m.name];
    writeLabState(this.state);
  }
}
