import { existsSync, mkdirSync, readFileSync, rmdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { CommandResult, hostPath, run, RunOptions, sleep, which } from "./command";
import { claimHostDirs, releaseHostDirs } from "./host-dirs";
import { resolveGroup, resolveOwner, resolveUser } from "./host-users";
import { memberMountDirs, prepareMemberRoot } from "./member-root";
import { startMember } from "./member-process";
import { createLabNetwork, deleteNamespaces, existingNamespaces, LabNetwork, labNamespaces, planLabNetwork, setBridgePort } from "./network";
import { isAlive, signalAndWait } from "./process-identity";
import { LabMember, LabStack, readLabStack } from "./stack";
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

const DEFAULT_LAB = "etcdlab";
const stderrLog = (line: string): void => void process.stderr.write(line + "\n");

/**
 * Rehearses a synthesized etcd cluster on this host: every member runs the host's etcd as its
 * unit would, in its own network namespace holding its real private IP, on a bridge with no way out.
 * Resolves once every member is healthy; on any failure, everything created so far is removed.
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
  const state: LabState = { name, stateDir, createdPaths: [home], namespaces: [], processes: {} };
  try {
    // Atomic: of two labUps with one name, one gets EEXIST.
    mkdirSync(home, { mode: 0o755 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") throw alreadyRunning(name);
    throw e;
  }
  writeLabState(state);

  try {
    await step(`network ${network.cidr}: ${stack.members.length} members + deployer ${network.deployer.ip}`, () => {
      claimHostDirs(name, [{ path: "/run/netns", becomesMountpoint: true }]);
      createLabNetwork(network, (netns) => {
        state.namespaces.push(netns);
        writeLabState(state);
      });
    });
    const mountDirs = await step("member roots", () => {
      const created = mkdirSync(stateDir, { recursive: true, mode: 0o755 });
      if (created) state.createdPaths.push(created);
      const dirs: Record<string, string[]> = {};
      for (const m of stack.members) {
        state.createdPaths.push(join(stateDir, m.name));
        writeLabState(state);
        prepareMemberRoot(m, join(stateDir, m.name, "root"));
        dirs[m.name] = memberMountDirs(m);
      }
      claimHostDirs(name, [...new Set(Object.values(dirs).flat())].map((path) => ({ path })));
      return dirs;
    });
    const lab = new Lab(name, stack, network, state, options.pkiDirectory, tools, mountDirs);
    await step("start members", () => stack.members.forEach((m) => lab.start(m.name)));
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
        }),
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

/** Host tools the lab runs, resolved once. */
interface LabTools {
  readonly etcd: string;
  readonly etcdctl: string;
}

function preflight(name: string): LabTools {
  validateLabName(name);
  if (process.getuid?.() !== 0) {
    throw new Error("the etcd lab must run as root (it creates network namespaces and mounts, and runs etcd as its unit's user)");
  }
  const etcd = which("etcd");
  const etcdctl = which("etcdctl");
  if (!etcd || !etcdctl) {
    throw new Error(`etcd is not installed (no ${etcd ? "etcdctl" : "etcd"} on PATH): apt-get install etcd-server etcd-client`);
  }
  const tools = [["ip", "iproute2"], ["ss", "iproute2"], ["unshare", "util-linux"], ["setpriv", "util-linux"], ["mount", "mount"], ["getent", "libc-bin"]];
  for (const [tool, pkg] of tools) {
    if (!which(tool)) throw new Error(`${tool} is not installed: apt-get install ${pkg}`);
  }
  if (existsSync(labHome(name))) throw alreadyRunning(name);
  return { etcd, etcdctl };
}

function alreadyRunning(name: string): Error {
  return new Error(
    `lab "${name}" is already running (${labHome(name)}/state.json exists); ` +
      `run labDown("${name}") first, or give another labName`,
  );
}

/** Everything that can be checked before anything is created, so a refusal leaves nothing behind. */
function validateHost(name: string, stack: LabStack, network: LabNetwork, pki: string): void {
  for (const file of ["ca.pem", "admin.pem", "admin-key.pem"]) {
    if (!existsSync(join(pki, file))) throw new Error(`PKI directory ${pki} has no ${file}`);
  }
  const existing = existingNamespaces();
  const clash = labNamespaces(network).filter((ns) => existing.includes(ns));
  if (clash.length > 0) {
    throw new Error(`network namespaces ${clash.join(", ")} already exist but no lab "${name}" is recorded; delete them first`);
  }
  for (const m of stack.members) {
    clientUrl(m);
    memberMountDirs(m);
    resolveUser(m.unit.user);
    if (m.unit.group !== undefined) resolveGroup(m.unit.group);
    m.files.forEach((f) => resolveOwner(f.owner));
  }
}

/** The URL the deployer reaches a member's client API at: its first advertised client URL. */
function clientUrl(member: LabMember): string {
  const url = member.conf.ETCD_ADVERTISE_CLIENT_URLS?.split(",")[0].trim();
  if (!url) throw new Error(`${member.name}: no ETCD_ADVERTISE_CLIENT_URLS`);
  return url;
}

function logTail(path: string, lines = 15): string {
  if (!existsSync(path)) return "(no log)";
  return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
}

/** A running lab: the operator's view (etcdctl from the deployer namespace) and fault primitives. */
export class Lab {
  /** @internal labUp creates labs. */
  constructor(
    readonly name: string,
    readonly stack: LabStack,
    readonly network: LabNetwork,
    private readonly state: LabState,
    readonly pkiDirectory: string,
    private readonly tools: LabTools,
    private readonly mountDirs: Record<string, string[]>,
  ) {}

  get stateDir(): string {
    return this.state.stateDir;
  }

  get memberNames(): string[] {
    return this.stack.members.map((m) => m.name);
  }

  /** Directories this lab created (they are gone after labDown). */
  get createdPaths(): string[] {
    return [...this.state.createdPaths];
  }

  member(name: string): LabMember {
    const m = this.stack.members.find((x) => x.name === name);
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

  /** The member that leads, as the reachable members report it; undefined while there is none. */
  async leader(): Promise<string | undefined> {
    const r = await this.etcdctl(["endpoint", "status", "-w", "json", "--dial-timeout=1s", "--command-timeout=2s"]);
    // Member ids are uint64s, beyond a JSON number's precision: compare them as strings.
    const json = r.stdout.replace(/"(member_id|leader)":(\d+)/g, '"$1":"$2"') || "[]";
    const statuses = JSON.parse(json) as { Endpoint: string; Status: { header: { member_id: string }; leader: string } }[];
    const leading = statuses.find((s) => s.Status.leader === s.Status.header.member_id);
    return leading && this.memberNames.find((m) => this.clientUrl(m) === leading.Endpoint);
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
      mountDirs: this.mountDirs[m.name],
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
