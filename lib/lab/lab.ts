import { createHash } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { cidrContains, parseCidr, parseIpv4 } from "../net/ipv4";
import { labHandlers, type LabCloud } from "./aws-standin";
import { CommandResult, hostPath, run, RunOptions, sleep } from "./command";
import { alreadyRunning, hostTools, preflight, validateHost, validateMember, type LabTools } from "./host-checks";
import { claimHostDirs, releaseHostDirs } from "./host-dirs";
import { checkKeyFetch, keyFetchOf, runFetchKey } from "./key-delivery";
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
import { deriveSchema, startProviderServer } from "./provider";
import { clientUrl, LabMember, LabStack, readLabStack } from "./stack";
import { labHome, LabState, readLabState, validateLabName, writeLabState } from "./state";
import { readState, runTerraform, terraformTool } from "./terraform";

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
  /** How long to wait, after the apply, for every member to be healthy. @default 60000 */
  readonly healthyTimeoutMs?: number;
  /** Aborting interrupts Terraform as Ctrl-C does (SIGINT): it stops gracefully and saves its state. */
  readonly signal?: AbortSignal;
}

export const DEFAULT_LAB = "etcdlab";
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
  const lab = readLabState(name) ? Lab.attach(name) : await createLab(name, options.stackDir, options.pkiDirectory, log);
  await lab.terraform(options.stackDir, ["apply", "-auto-approve", "-input=false", "-no-color"], { log, signal: options.signal });
  const t = Date.now();
  // A member the operator stopped (`lab stop`) is not Terraform's business, nor this wait's; one
  // that exited by itself is, and the wait fails quoting its log.
  const running = lab.memberNames.filter((m) => !lab.isStopped(m));
  await lab.waitHealthy(running, options.healthyTimeoutMs);
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
export async function labDestroy(options: Omit<LabDeployOptions, "pkiDirectory" | "healthyTimeoutMs">): Promise<void> {
  const name = options.labName ?? DEFAULT_LAB;
  const log = options.log ?? stderrLog;
  const lab = Lab.attach(name);
  const t = Date.now();
  await lab.terraform(options.stackDir, ["destroy", "-auto-approve", "-input=false", "-no-color"], { log, signal: options.signal });
  log(`[lab ${name}] terraform destroy finished in ${seconds(Date.now() - t)}`);
  if (lab.memberNames.length === 0) await labDown(name, { log });
}

/** The lab's network and home, for a stack: nothing of it exists yet. */
async function createLab(name: string, stackDir: string, pkiDirectory: string | undefined, log: (line: string) => void): Promise<Lab> {
  const tools = preflight(name);
  terraformTool();
  if (!pkiDirectory) throw new Error(`lab "${name}" is not running: give the PKI directory to create it`);
  const stack = readLabStack(stackDir);
  const network = planLabNetwork(name, stack);
  validateHost(name, stack, network, pkiDirectory);
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
    mkdirSync(join(home, "ssm"), { mode: 0o700 });
    writeFileSync(join(home, "terraform.rc"), "");
    log(`[lab ${name}] network ${network.cidr}: bridge + deployer ${network.deployer.ip} (${Date.now() - t} ms)`);
    const lab = new Lab(state, tools);
    OPEN_LABS.set(name, lab);
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

  /** Stopped or killed through the lab (`lab stop|kill`), as opposed to running or exited by itself. */
  isStopped(member: string): boolean {
    return this.state.processes[this.member(member).name] === undefined;
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
   * Runs one terraform command in the stack directory, as `cdktf deploy` would there, from the
   * deployer's namespace and against the lab's aws provider, which is served by this process for
   * as long as the command runs. Throws TerraformFailed when it exits non-zero (`plan
   * -detailed-exitcode`'s 2, "changes", is returned rather than thrown).
   */
  async terraform(stackDir: string, args: string[], options: { log?: (line: string) => void; signal?: AbortSignal } = {}): Promise<number> {
    const say = (line: string) => (options.log ?? stderrLog)(`[lab ${this.name}] ${line}`);
    const dir = resolve(stackDir);
    const terraform = terraformTool();
    const config = JSON.parse(readFileSync(join(dir, "cdk.tf.json"), "utf8")) as object;
    const providerLog = join(labHome(this.name), "provider.log");
    // What Terraform still has in state needs a schema too, so that it can be destroyed.
    const schema = deriveSchema(config, readState(dir));
    const server = await startProviderServer({
      socketPath: join(labHome(this.name), "provider.sock"),
      schema,
      handlers: labHandlers(this.cloud(), schema, say),
      log: (line) => appendFileSync(providerLog, `${new Date().toISOString()} ${line}\n`),
    });
    try {
      const run = {
        terraform,
        stackDir: dir,
        netns: this.network.deployer.netns,
        reattach: server.reattach,
        cliConfigFile: join(labHome(this.name), "terraform.rc"),
        onLine: say,
        signal: options.signal,
      };
      if (!existsSync(join(dir, ".terraform"))) {
        const init = await runTerraform(run, ["init", "-input=false", "-no-color"]);
        if (init !== 0) throw new TerraformFailed("init", init);
      }
      const code = await runTerraform(run, args);
      const detailed = args[0] === "plan" && args.includes("-detailed-exitcode");
      if (code !== 0 && !(detailed && code === 2)) throw new TerraformFailed(args[0], code);
      this.state.stackDir = dir;
      writeLabState(this.state);
      return code;
    } finally {
      await server.close();
    }
  }

  /** What the lab's aws provider does to this lab: EC2 instances are members, SSM parameters files. */
  private cloud(): LabCloud {
    return {
      launch: async (member, instanceId, region, log) => {
        await this.launch(member, instanceId, region, log);
        log(`running as ${instanceId}, etcd pid ${this.pid(member.name)}`);
      },
      terminate: (instanceId) => this.terminate(instanceId),
      instanceExists: (instanceId) => instanceId in this.state.instances,
      parameterExists: (name) => name in this.state.parameters,
      putParameter: (name, value) => {
        const file = join(labHome(this.name), "ssm", createHash("sha256").update(name).digest("hex"));
        writeFileSync(file, value, { mode: 0o600 });
        this.state.parameters[name] = file;
        writeLabState(this.state);
      },
      deleteParameter: (name) => {
        const file = this.state.parameters[name];
        if (file) rmSync(file, { force: true });
        delete this.state.parameters[name];
        writeLabState(this.state);
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
   * The member's VM: its namespace on the bridge, its root as cloud-init leaves it (its key fetched
   * by its boot script's fetch_key when the user data does not carry it), and etcd started.
   */
  private async launch(m: LabMember, instanceId: string, region: string, say: (line: string) => void): Promise<void> {
    this.checkNewMember(m);
    const endpoint = memberEndpoint(this.name, m.name, m.privateIp);
    this.state.network.members[m.name] = endpoint;
    this.state.members[m.name] = m;
    this.state.instances[instanceId] = m.name;
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
      const parameters = new Map(Object.entries(this.state.parameters));
      checkKeyFetch(m.name, fetch, parameters);
      await runFetchKey({
        member: m,
        fetch,
        parameters,
        region,
        netns: endpoint.netns,
        root: join(dir, "root"),
        mountDirs: memberMountDirs(m),
        workDir: join(dir, "boot"),
        onLine: say,
      });
    }
    this.start(m.name);
  }

  /** Terminates the member's VM: etcd killed (its disk goes with it), its namespace and root removed. */
  private async terminate(instanceId: string): Promise<void> {
    const member = this.state.instances[instanceId];
    // Already gone (lab down, or a VM terminated outside Terraform): as EC2, terminating it again is fine.
    if (member === undefined) return;
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
    delete this.state.instances[instanceId];
    writeLabState(this.state);
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
