// The recipe's `etcdctl member list` and `cluster-health`, as the operator CLI prints them.
import { EtcdClient, type Member } from "../membership/etcd-membership";
import { quorumOf } from "../etcd/quorum";

export interface EndpointHealth {
  readonly endpoint: string;
  readonly healthy: boolean;
  readonly reason?: string;
  readonly leaderId?: string;
  readonly memberId?: string;
  readonly version?: string;
}

export interface ClusterStatus {
  readonly members: Member[];
  readonly health: EndpointHealth[];
}

export async function gatherStatus(client: EtcdClient, endpoints: readonly string[]): Promise<ClusterStatus> {
  const { members } = await client.memberList();
  // Ask every member, not just the given endpoints: a member missing from them still counts.
  const clientUrls = unique([...endpoints, ...members.flatMap((m) => m.clientURLs ?? [])]);
  const health = await Promise.all(
    clientUrls.map(async (endpoint): Promise<EndpointHealth> => {
      const result = await client.health(endpoint);
      if (!result.healthy) return { endpoint, healthy: false, reason: result.reason };
      const status = await client.status(endpoint).catch(() => undefined);
      return { endpoint, healthy: true, leaderId: status?.leader, memberId: status?.header?.member_id, version: status?.version };
    })
  );
  return { members, health };
}

/** etcd prints member ids in hex; the JSON gateway gives them as decimal strings. */
export function hexId(id: string): string {
  return BigInt(id).toString(16);
}

export function formatMemberList(status: ClusterStatus): string[] {
  const leader = status.health.find((h) => h.leaderId)?.leaderId;
  return [...status.members]
    .sort((a, b) => (a.name ?? "").localeCompare(b.name ?? "") || a.ID.localeCompare(b.ID))
    .map((m) => {
      const peers = `peerURLs=${(m.peerURLs ?? []).join(",")}`;
      const learner = m.isLearner ? " isLearner=true" : "";
      if (!m.name) return `${hexId(m.ID)}[unstarted]: ${peers}${learner}`;
      return `${hexId(m.ID)}: name=${m.name} ${peers} clientURLs=${(m.clientURLs ?? []).join(",")} isLeader=${m.ID === leader}${learner}`;
    });
}

export function formatHealth(status: ClusterStatus): string[] {
  const byUrl = new Map(status.members.flatMap((m) => (m.clientURLs ?? []).map((u) => [u, m] as const)));
  const lines = status.health.map((h) => {
    const member = byUrl.get(h.endpoint);
    const who = member ? `member ${hexId(member.ID)}` : "endpoint";
    return h.healthy
      ? `${who} is healthy: got healthy result from ${h.endpoint}`
      : `${who} is unhealthy: ${h.reason ?? "no answer"} (${h.endpoint})`;
  });
  const voters = status.members.filter((m) => !m.isLearner);
  const healthyVoters = voters.filter((m) => (m.clientURLs ?? []).some((u) => status.health.find((h) => h.endpoint === u)?.healthy));
  const quorum = quorumOf(voters.length);
  const learners = status.members.filter((m) => m.isLearner).length;
  lines.push(
    healthyVoters.length === voters.length
      ? `cluster is healthy: ${voters.length} voting member(s)${learners ? `, ${learners} learner(s)` : ""}`
      : healthyVoters.length >= quorum
      ? `cluster is degraded: ${healthyVoters.length} of ${voters.length} voting members healthy (quorum ${quorum}), it tolerates ${
          healthyVoters.length - quorum
        } more failure(s)`
      : `cluster is unavailable: ${healthyVoters.length} of ${voters.length} voting members healthy, quorum needs ${quorum}`
  );
  return lines;
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
