// What the real scenarios share: a user's project (the seed example synthesized on a copy of the
// fixture PKI, Terraform's state beside it), deployed to a lab by the real Terraform; keys written
// and read back through etcdctl; timings for the record.
import type { EtcdMemberProps } from "../../lib";
import { main } from "../../lib/cli/main";
import { hostTools, Lab, labDown } from "../../lib/lab";
import { terraformTool } from "../../lib/lab/terraform";
import { LabProject } from "../support/lab-project";
import { NODE4, SEED } from "../support/synth";

export { NODE4, SEED, LabProject };

/**
 * Fails (never skips) when this host cannot run the lab: root, etcd, Terraform and the tools it
 * needs, each refusal naming what to install.
 */
export function requireLabHost(): void {
  try {
    hostTools();
    terraformTool();
  } catch (e) {
    throw new Error(`the real scenarios need a host that can run the etcd lab: ${(e as Error).message}`);
  }
}

/** The seed example deployed by Terraform into a new lab of that project. */
export async function seedLab(project: LabProject, members: EtcdMemberProps[] = SEED): Promise<Lab> {
  requireLabHost();
  await labDown(project.labName, { log: () => undefined }); // a previous run killed half-way
  const t = Date.now();
  project.synth(members);
  const lab = await project.deploy();
  record(project.labName, `lab deploy (seed, ${members.length} members) to all healthy`, Date.now() - t);
  return lab;
}

/**
 * A seed-cluster lab for one suite: deployed before its tests, taken down after them (also when
 * they fail). Jest runs a file's beforeAll hooks in order, so a suite's own ones after this see the lab.
 */
export function useSeedLab(
  labName: string,
  options: ConstructorParameters<typeof LabProject>[1] = {}
): { readonly lab: Lab; readonly project: LabProject } {
  const project = new LabProject(labName, options);
  let lab: Lab | undefined;
  beforeAll(async () => {
    lab = await seedLab(project);
  });
  afterAll(() => project.remove());
  return {
    get lab(): Lab {
      if (!lab) throw new Error(`lab ${labName} is not up: its beforeAll failed`);
      return lab;
    },
    project,
  };
}

/** Runs `etcd-cluster lab ...` in this process; returns its exit code and printed lines. */
export async function labCli(args: string[]): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await main(["lab", ...args], (l) => lines.push(l));
  return { code, lines };
}

/** Writes `count` keys under `prefix` (one etcdctl put each, as separate client writes). */
export async function putKeys(lab: Lab, prefix: string, count: number, endpoints?: string[]): Promise<Record<string, string>> {
  const keys: Record<string, string> = {};
  for (let i = 0; i < count; i++) keys[`${prefix}/${String(i).padStart(3, "0")}`] = `${prefix}-value-${i}`;
  const results = await Promise.all(Object.entries(keys).map(([k, v]) => putEventually(lab, k, v, endpoints)));
  const failed = results.filter((r) => r !== 0);
  if (failed.length > 0) throw new Error(`${failed.length} of ${count} puts under ${prefix} failed`);
  return keys;
}

/**
 * Retries a put until it succeeds: a write in flight when a leader goes away times out, as it
 * would for any client, until the majority has elected another.
 */
export async function putEventually(lab: Lab, key: string, value: string, endpoints?: string[], timeoutMs = 15_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await lab.etcdctl(["put", key, value, "--command-timeout=2s"], { endpoints });
    if (r.code === 0 || Date.now() > deadline) return r.code ?? -1;
  }
}

/** Every key under `prefix`, read linearizably through the cluster, or from one member's own data. */
export async function readKeys(lab: Lab, prefix: string, options: { member?: string } = {}): Promise<Record<string, string>> {
  const args = ["get", `${prefix}/`, "--prefix", "-w", "json"];
  const r = await lab.etcdctl(options.member ? [...args, "--consistency=s"] : args, {
    endpoints: options.member ? [lab.clientUrl(options.member)] : undefined,
  });
  if (r.code !== 0) throw new Error(`etcdctl get ${prefix}/ failed: ${r.stderr}`);
  const kvs = (JSON.parse(r.stdout) as { kvs?: { key: string; value: string }[] }).kvs ?? [];
  const b64 = (s: string) => Buffer.from(s, "base64").toString("utf8");
  return Object.fromEntries(kvs.map((kv) => [b64(kv.key), b64(kv.value)]));
}

/** Polls one member's own (serializable) view until it holds every key of `expected`: replication may lag. */
export async function expectMemberHolds(
  lab: Lab,
  member: string,
  prefix: string,
  expected: Record<string, string>,
  timeoutMs = 10_000
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const held = await readKeys(lab, prefix, { member }).catch(() => ({}));
    if (JSON.stringify(held) === JSON.stringify(expected) || Date.now() > deadline) {
      expect(held).toEqual(expected);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export interface MemberListEntry {
  readonly ID: string;
  readonly name?: string;
  readonly peerURLs: string[];
  readonly clientURLs?: string[];
  readonly isLearner?: boolean;
}

/** `etcdctl member list -w json` from the deployer (ids kept as strings: they exceed a double's precision). */
export async function memberList(lab: Lab, endpoints?: string[]): Promise<MemberListEntry[]> {
  const r = await lab.etcdctl(["member", "list", "-w", "json"], { endpoints });
  if (r.code !== 0) throw new Error(`etcdctl member list failed: ${r.stderr}`);
  const json = r.stdout.replace(/"(ID|member_id|cluster_id)":(\d+)/g, '"$1":"$2"');
  return (JSON.parse(json) as { members: MemberListEntry[] }).members;
}

/** Polls until the members in `among` agree on a leader among themselves. */
export async function waitLeader(lab: Lab, among: string[], timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const leader = await lab.leader(among).catch(() => undefined);
    if (leader) return leader;
    if (Date.now() > deadline) throw new Error(`no leader among ${among.join(", ")} after ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Prints how long a scenario step took, for the record. */
export function record(labName: string, what: string, ms: number): void {
  process.stderr.write(`[real ${labName}] ${what}: ${(ms / 1000).toFixed(2)} s\n`);
}

/** Times an async step and records it. */
export async function timed<T>(labName: string, what: string, body: () => Promise<T>): Promise<T> {
  const t = Date.now();
  const result = await body();
  record(labName, what, Date.now() - t);
  return result;
}
