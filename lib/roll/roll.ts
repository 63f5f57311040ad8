// A rolling replacement of the members' VMs, driven through Terraform one member at a time, the
// way `kops rolling-update` drives a cloud: a plain apply never replaces a member (the instances
// ignore what a VM is launched with), and Terraform cannot be made to replace them one by one
// within a single apply (dependent replacements are destroyed together, then created together).
import { gatherStatus, hexId, type ClusterStatus } from "../cli/cluster-status";
import type { EtcdClient } from "../membership/etcd-membership";
import { versionChangeProblem } from "../etcd/upgrade-path";
import { installedVersion } from "../host/member-user-data";
import { unescapeTemplate } from "../terraform-string";
import { launchDrift, type MemberLaunch } from "./launch-drift";
import type { ShownState } from "./terraform-state";

/** Terraform in the stack's directory, as `cdktf deploy` runs it there. */
export interface RollTerraform {
  /** `terraform apply -auto-approve -input=false ...args`; rejects when it fails. */
  apply(args: readonly string[]): Promise<void>;
  /** `terraform show -json`. */
  show(): Promise<ShownState>;
}

export interface RollOptions {
  /** The synthesized stack (cdk.tf.json). */
  readonly config: { resource?: Record<string, Record<string, unknown>> };
  readonly terraform: RollTerraform;
  /** The cluster, over the transport the operator chose. */
  readonly client: EtcdClient;
  readonly log: (line: string) => void;
  /** How long a replaced member may take to boot, rejoin and catch up. @default 900 s */
  readonly memberTimeoutMs?: number;
  /** @default 1000 */
  readonly pollMs?: number;
}

export interface RollReport {
  /** The members replaced, in order, with how long each took. */
  readonly replaced: readonly { readonly member: string; readonly seconds: number }[];
  readonly seconds: number;
}

/** The roll stopped: the cluster was not healthy, or a replaced member did not come back. Nothing after it was touched. */
export class RollError extends Error {}

/**
 * Brings every member's VM to the synthesized configuration without losing quorum:
 *  1. refuses to start unless every member is a healthy voter;
 *  2. applies the configuration (no VM is replaced by it);
 *  3. replaces each member whose VM differs, followers first and the leader last (its leadership
 *     handed to a member already replaced), each only when the cluster is healthy again and the
 *     member before it has caught up, with the same member id: its data volume carries its data.
 * Re-running it after an interruption goes on where it stopped: replaced members are up to date.
 */
export async function roll(o: RollOptions): Promise<RollReport> {
  const started = Date.now();
  const step = stepper(o.log, started);
  const before = await healthyCluster(o, "the roll refuses to start");
  step(`cluster healthy: ${before.members.length} voting members`);
  refuseVersionSkips(o.config, before);

  step("terraform apply: the configuration, with no VM replaced");
  await o.terraform.apply([]);
  const drift = launchDrift(o.config, await o.terraform.show());
  for (const m of drift.filter((d) => d.changes.length === 0)) step(`${m.member}: its VM is as configured`);
  const toRoll = drift.filter((d) => d.changes.length > 0);
  if (toRoll.length === 0) {
    step("nothing to roll");
    return { replaced: [], seconds: elapsed(started) };
  }
  const losing = toRoll.filter((d) => d.keepsData === false).map((d) => d.member);
  if (losing.length > 0) {
    throw new RollError(
      `the roll refuses to replace ${losing.join(
        ", "
      )}: etcd's data is not on a data volume both for the VM that runs and for the new one ` +
        "(a VM launched before data volumes, or dataVolume false), so a new VM would start without the member's data. " +
        'Move such a member once by removing it and adding it again (README, "Upgrading a cluster deployed before data volumes"); nothing was replaced'
    );
  }

  const ids = new Map(before.members.map((m) => [m.name ?? "", m.ID]));
  const leaderName = nameOf(before, leaderOf(before));
  const ordered = [...toRoll.filter((m) => m.member !== leaderName), ...toRoll.filter((m) => m.member === leaderName)];
  step(`to roll, followers first: ${ordered.map((m) => `${m.member}${m.member === leaderName ? " (leader)" : ""}`).join(", ")}`);

  const replaced: { member: string; seconds: number }[] = [];
  for (const [i, launch] of ordered.entries()) {
    const t = Date.now();
    const tag = `[${i + 1}/${ordered.length}] ${launch.member}`;
    const status = await healthyCluster(o, `the roll stopped before ${launch.member}`);
    if (leaderOf(status) === ids.get(launch.member)) await handOverLeadership(o, status, launch.member, replaced, step, tag);
    step(`${tag}: replacing its VM (${launch.changes.join("; ")}): terraform apply -replace=${launch.address}`);
    await o.terraform.apply([`-replace=${launch.address}`]);
    step(`${tag}: new VM up in ${elapsed(t)} s, waiting for etcd to rejoin and catch up`);
    await caughtUp(o, launch, ids.get(launch.member)!, step, tag);
    replaced.push({ member: launch.member, seconds: elapsed(t) });
    step(`${tag}: replaced and caught up in ${elapsed(t)} s`);
  }

  const left = launchDrift(o.config, await o.terraform.show()).filter((d) => d.changes.length > 0);
  if (left.length > 0)
    throw new RollError(`after the roll, ${left.map((m) => `${m.member} (${m.changes.join("; ")})`).join(", ")} still differ`);
  step(`rolled ${replaced.length} member(s) in ${elapsed(started)} s`);
  return { replaced, seconds: elapsed(started) };
}

/**
 * Refuses, before anything changes, a new install.version etcd cannot take the running cluster to
 * in one roll: what each member reports running against what its synthesized VM installs.
 */
function refuseVersionSkips(config: RollOptions["config"], status: ClusterStatus): void {
  const targets = installedVersions(config);
  const problems = status.members.flatMap((m) => {
    const running = status.health.find((h) => (m.clientURLs ?? []).includes(h.endpoint))?.version;
    const target = targets.get(m.name ?? "");
    const problem = running && target ? versionChangeProblem(running, target) : undefined;
    return problem ? [`install.version is "${target}" but ${m.name} runs v${running}: ${problem}`] : [];
  });
  if (problems.length > 0) throw new RollError(`the roll refuses to start: ${[...new Set(problems)].join("; ")}`);
}

/** The etcd release each member's synthesized user data installs. */
function installedVersions(config: RollOptions["config"]): Map<string, string> {
  const instances = Object.values(
    (config.resource?.aws_instance ?? {}) as Record<string, { user_data?: string; tags?: Record<string, string> }>
  );
  return new Map(
    instances.flatMap((i) => {
      const version = i.user_data && installedVersion(unescapeTemplate(i.user_data));
      return version && i.tags?.["etcd:member"] ? [[i.tags["etcd:member"], version] as [string, string]] : [];
    })
  );
}

/** The cluster, refused unless every member is a started, healthy voter. */
async function healthyCluster(o: RollOptions, refusal: string): Promise<ClusterStatus> {
  const status = await gatherStatus(o.client, o.client.endpoints);
  const problems = [
    ...status.members.filter((m) => !m.name).map((m) => `member ${hexId(m.ID)} (${(m.peerURLs ?? []).join(",")}) has not started`),
    ...status.members.filter((m) => m.isLearner).map((m) => `${m.name ?? hexId(m.ID)} is a learner`),
    ...status.health
      .filter((h) => !h.healthy)
      .map((h) => `${nameAt(status, h.endpoint)} is not healthy: ${h.reason ?? "no answer"} (${h.endpoint})`),
  ];
  if (problems.length > 0) {
    throw new RollError(
      `${refusal}: ${problems.join("; ")}. A roll replaces members one at a time and needs every one of them healthy; ` +
        "`etcd-cluster status` shows the cluster. If an earlier roll stopped while replacing a member, `cdktf deploy` finishes that member; then roll again"
    );
  }
  return status;
}

/** The leader steps down to a member already replaced (or any other voter), so that its own replacement costs no election. */
async function handOverLeadership(
  o: RollOptions,
  status: ClusterStatus,
  leader: string,
  replaced: readonly { member: string }[],
  step: (line: string) => void,
  tag: string
): Promise<void> {
  const others = status.members.filter((m) => m.name !== leader);
  const target = others.find((m) => replaced.some((r) => r.member === m.name)) ?? others[0];
  if (!target) return;
  const endpoint = status.members.find((m) => m.name === leader)!.clientURLs![0];
  step(`${tag}: is the leader: handing leadership to ${target.name}`);
  await o.client.moveLeader(endpoint, target.ID);
  const deadline = Date.now() + 30_000;
  while (leaderOf(await gatherStatus(o.client, o.client.endpoints)) !== target.ID) {
    if (Date.now() > deadline) throw new RollError(`the roll stopped: ${leader} did not hand its leadership to ${target.name} within 30 s`);
    await sleep(o.pollMs ?? 1000);
  }
}

/**
 * Until the replaced member is a healthy voter with the member id it had, and has applied what the
 * leader had committed when it came back: its data volume brought its data, and nothing is missing.
 */
async function caughtUp(o: RollOptions, launch: MemberLaunch, id: string, step: (line: string) => void, tag: string): Promise<void> {
  const timeoutMs = o.memberTimeoutMs ?? 900_000;
  const deadline = Date.now() + timeoutMs;
  const goal: Goal = {};
  let said = Date.now();
  for (;;) {
    const progress = await progressOf(o, launch.member, id, goal);
    if (progress.caughtUp) return;
    if (progress.never) throw new RollError(`the roll stopped at ${launch.member}: ${progress.why}`);
    if (Date.now() > deadline) {
      throw new RollError(
        `the roll stopped: ${launch.member} is not caught up ${Math.round(timeoutMs / 1000)} s after its VM was replaced (${
          progress.why
        }); ` +
          "the members after it were not touched. `etcd-cluster status` and the member's console show why; once it is healthy, roll again"
      );
    }
    if (Date.now() - said >= 15_000) {
      step(`${tag}: waiting: ${progress.why}`);
      said = Date.now();
    }
    await sleep(o.pollMs ?? 1000);
  }
}

/** The leader's raft index when the replaced member first answered with the cluster healthy: what it must apply. */
interface Goal {
  raftIndex?: bigint;
}

type Progress = { readonly caughtUp: true } | { readonly caughtUp: false; readonly why: string; readonly never?: boolean };

/** Where the replaced member is: caught up, not yet (and why), or never going to be (it is not the member it was). */
async function progressOf(o: RollOptions, member: string, id: string, goal: Goal): Promise<Progress> {
  const wait = (why: string): Progress => ({ caughtUp: false, why });
  const never = (why: string): Progress => ({ caughtUp: false, why, never: true });
  let status: ClusterStatus;
  try {
    status = await gatherStatus(o.client, o.client.endpoints);
  } catch (err) {
    return wait(`no member answers: ${(err as Error).message.split("\n")[0]}`);
  }
  const entry = status.members.find((m) => m.name === member || m.ID === id);
  if (!entry) return never(`${member} is no longer in the member list`);
  if (entry.ID !== id)
    return never(`${member} came back as member ${hexId(entry.ID)}, not ${hexId(id)}: its VM did not start on its own data`);
  if (entry.isLearner) return never(`${member} is a learner`);
  const endpoint = entry.clientURLs?.[0];
  const health = status.health.find((h) => h.endpoint === endpoint);
  if (!endpoint || !health?.healthy) return wait(`${member} is not healthy yet: ${health?.reason ?? "not started"}`);
  const unhealthy = status.health.filter((h) => !h.healthy);
  if (unhealthy.length > 0) return wait(`${unhealthy.map((h) => nameAt(status, h.endpoint)).join(", ")} not healthy`);
  const leaderEndpoint = status.members.find((m) => m.ID === leaderOf(status))?.clientURLs?.[0];
  if (!leaderEndpoint) return wait("no leader");
  const [leader, own] = await Promise.all([o.client.status(leaderEndpoint), o.client.status(endpoint)]).catch(() => [undefined, undefined]);
  if (!leader || !own) return wait("status not answered");
  goal.raftIndex ??= BigInt(leader.raftIndex ?? 0);
  const applied = BigInt(own.raftAppliedIndex ?? own.raftIndex ?? 0);
  return applied >= goal.raftIndex ? { caughtUp: true } : wait(`${member} has applied raft index ${applied} of ${goal.raftIndex}`);
}

function leaderOf(status: ClusterStatus): string | undefined {
  return status.health.find((h) => h.leaderId && h.leaderId !== "0")?.leaderId;
}

function nameOf(status: ClusterStatus, id: string | undefined): string | undefined {
  return status.members.find((m) => m.ID === id)?.name;
}

function nameAt(status: ClusterStatus, endpoint: string): string {
  return status.members.find((m) => (m.clientURLs ?? []).includes(endpoint))?.name ?? endpoint;
}

function stepper(log: (line: string) => void, started: number): (line: string) => void {
  return (line) => log(`roll +${elapsed(started).toFixed(1)}s ${line}`);
}

function elapsed(since: number): number {
  return Math.round((Date.now() - since) / 100) / 10;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
