import type { EtcdMemberProps } from "./props";

/** etcd's IANA ports: clients on 2379, peers (raft) on 2380. */
export const CLIENT_PORT = 2379;
export const PEER_PORT = 2380;

/** A member as etcd sees it, with its URLs worked out. Pure data, derived from the props. */
export interface ClusterMember {
  readonly name: string;
  readonly privateIp: string;
  readonly peerUrl: string;
  readonly clientUrl: string;
  readonly initialClusterState: "new" | "existing";
  readonly removed: boolean;
  readonly registerOnly: boolean;
  readonly subnetId?: string;
  readonly extraSans: readonly string[];
}

export function resolveMembers(members: readonly EtcdMemberProps[]): ClusterMember[] {
  return members.map((m) => ({
    name: m.name,
    privateIp: m.privateIp,
    peerUrl: `https://${m.privateIp}:${PEER_PORT}`,
    clientUrl: `https://${m.privateIp}:${CLIENT_PORT}`,
    initialClusterState: m.initialClusterState ?? "new",
    removed: m.removed ?? false,
    registerOnly: m.registerOnly ?? false,
    subnetId: m.subnetId,
    extraSans: m.extraSans ?? [],
  }));
}

/**
 * The members that form the cluster at bootstrap: every "new" member, removed or not, so that
 * removing one later does not change a byte of the others' etcd.conf (etcd reads
 * INITIAL_CLUSTER only on first start).
 */
export function bootstrapMembers(members: readonly ClusterMember[]): ClusterMember[] {
  return members.filter((m) => m.initialClusterState === "new");
}

/** Members whose VM runs (or is about to): what clients, outputs and provisioners talk to. */
export function runningMembers(members: readonly ClusterMember[]): ClusterMember[] {
  return members.filter((m) => !m.removed && !m.registerOnly);
}

/** Client URLs of the other members that run: where membership changes for `member` are sent. */
export function peersOf(member: ClusterMember, members: readonly ClusterMember[]): string[] {
  return runningMembers(members)
    .filter((m) => m !== member)
    .map((m) => m.clientUrl);
}

/**
 * ETCD_INITIAL_CLUSTER for one member. A bootstrap member lists the bootstrap members; a joining
 * member lists the cluster as it is when it joins (the active members before it) plus itself,
 * which is what etcd's join check compares against the running cluster's member list.
 */
export function initialClusterFor(member: ClusterMember, members: readonly ClusterMember[]): { name: string; peerUrl: string }[] {
  const list =
    member.initialClusterState === "new"
      ? bootstrapMembers(members)
      : members.slice(0, members.indexOf(member) + 1).filter((m) => !m.removed || m === member);
  return list.map((m) => ({ name: m.name, peerUrl: m.peerUrl }));
}
