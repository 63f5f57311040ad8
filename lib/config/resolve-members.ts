import { resolveMembers, type ClusterMember } from "../cluster-members";
import { faultTolerance, quorumOf } from "../etcd/quorum";
import { awsReservedAddresses, cidrContains, cidrSize, formatIpv4, parseIpv4 } from "../net/ipv4";
import { ADMIN, CA, filesOf } from "../pki/pki-files";
import type { EtcdClusterProps, EtcdMemberProps } from "../props";
import type { Problems } from "./config-error";
import { cidrField, type ResolvedNetwork } from "./resolve-network";

/**
 * A member name goes into ETCD_INITIAL_CLUSTER ("a=url,b=url"), the PKI directory's file names,
 * IAM name prefixes and tags: it is kept plain. The lab reads member tags back with it too.
 */
export const MEMBER_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;
const SANE_DNS_NAME = /^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** The members with their URLs, or problems; unwise counts become warnings. */
export function resolveClusterMembers(
  props: EtcdClusterProps,
  network: ResolvedNetwork,
  problems: Problems,
  warnings: string[]
): ClusterMember[] {
  const members = props.members;
  if (!Array.isArray(members) || members.length === 0) {
    problems.add(
      "members",
      `members is ${JSON.stringify(
        members
      )}: give at least one member, e.g. [{ name: "etcd_node1", privateIp: "172.16.0.101" }] (three for a cluster that survives a failure)`
    );
    return [];
  }

  members.forEach((member, i) => checkMember(member, `members[${i}]`, props, network, problems));
  checkUnique(members, problems);
  checkFileNames(members, problems);
  checkMembershipChanges(members, problems);

  const voters = members.filter((m) => !m.removed && !m.registerOnly).length;
  if (voters > 0 && voters % 2 === 0) {
    warnings.push(
      `the cluster has ${voters} members: an even count tolerates no more failures than ${voters - 1} (quorum is ${quorumOf(
        voters
      )}); use an odd number`
    );
  }
  if (voters > 7) {
    warnings.push(
      `the cluster has ${voters} members: every write waits for a majority, so more than 7 slows writes with little gain in tolerance; etcd recommends 3, 5 or 7`
    );
  }
  return resolveMembers(members);
}

function checkMember(member: EtcdMemberProps, field: string, props: EtcdClusterProps, network: ResolvedNetwork, problems: Problems): void {
  if (typeof member.name !== "string" || !MEMBER_NAME.test(member.name)) {
    problems.add(
      `${field}.name`,
      `${field}.name is ${JSON.stringify(
        member.name
      )}: use 1-63 letters, digits, "_" or "-", starting with a letter or digit, e.g. "etcd_node1" (it goes into ETCD_INITIAL_CLUSTER, file names and tags)`
    );
  }

  const ip = typeof member.privateIp === "string" ? parseIpv4(member.privateIp) : undefined;
  if (ip === undefined) {
    problems.add(
      `${field}.privateIp`,
      `${field}.privateIp is ${JSON.stringify(member.privateIp)}: give an IPv4 address such as "172.16.0.101"`
    );
  }

  if (member.initialClusterState !== undefined && !["new", "existing"].includes(member.initialClusterState)) {
    problems.add(
      `${field}.initialClusterState`,
      `${field}.initialClusterState is ${JSON.stringify(
        member.initialClusterState
      )}: use "new" for bootstrap members or "existing" for a member joining a running cluster`
    );
  }

  let subnet = network.defaultSubnet;
  let subnetField = network.defaultSubnetField;
  if (member.subnetCidr !== undefined) {
    subnet = cidrField(`${field}.subnetCidr`, member.subnetCidr, problems);
    subnetField = `${field}.subnetCidr`;
    if (member.subnetId === undefined) {
      problems.add(
        `${field}.subnetId`,
        `${field}.subnetCidr is "${member.subnetCidr}" but ${field}.subnetId is missing: give the subnet's id, or drop subnetCidr`
      );
    }
  } else if (member.subnetId !== undefined) {
    subnet = undefined;
  }
  if (member.subnetId !== undefined && props.vpcId === undefined) {
    problems.add(
      `${field}.subnetId`,
      `${field}.subnetId is ${JSON.stringify(
        member.subnetId
      )} but the cluster creates its own VPC: give vpcId and subnetId for the cluster too, or drop ${field}.subnetId`
    );
  }

  if (ip !== undefined && subnet !== undefined) {
    const first = formatIpv4(subnet.network + 4);
    const last = formatIpv4(subnet.network + cidrSize(subnet) - 2);
    if (!cidrContains(subnet, ip)) {
      problems.add(
        `${field}.privateIp`,
        `${field}.privateIp is "${member.privateIp}" but it is outside ${subnetField} "${subnet.text}": pick an address from ${first} to ${last}`
      );
    } else if (awsReservedAddresses(subnet).includes(ip)) {
      problems.add(
        `${field}.privateIp`,
        `${field}.privateIp is "${member.privateIp}", which AWS reserves in "${subnet.text}" (network, router, DNS, future use, broadcast): pick an address from ${first} to ${last}`
      );
    }
  }

  (member.extraSans ?? []).forEach((san, j) => {
    if (typeof san !== "string" || (parseIpv4(san) === undefined && !SANE_DNS_NAME.test(san))) {
      problems.add(
        `${field}.extraSans[${j}]`,
        `${field}.extraSans[${j}] is ${JSON.stringify(san)}: give an IPv4 address or a DNS name such as "etcd1.example.internal"`
      );
    }
  });
}

function checkUnique(members: readonly EtcdMemberProps[], problems: Problems): void {
  const names = new Map<string, number>();
  const ips = new Map<string, number>();
  members.forEach((member, i) => {
    const field = `members[${i}]`;
    // Compared without case: etcd would take both, but their certificates would be one file on a
    // case-insensitive file system (macOS, Windows), where the PKI directory may live.
    const key = String(member.name).toLowerCase();
    const prevName = names.get(key);
    if (prevName === undefined) names.set(key, i);
    else if (members[prevName].name === member.name) {
      problems.add(
        `${field}.name`,
        `${field}.name is "${member.name}", already used by members[${prevName}]: give each member its own name`
      );
    } else {
      problems.add(
        `${field}.name`,
        `${field}.name is "${member.name}", which differs from members[${prevName}]'s "${members[prevName].name}" only in case: their PKI files would be the same file on a case-insensitive file system; give each member a name of its own`
      );
    }
    const prevIp = ips.get(member.privateIp);
    if (prevIp === undefined) ips.set(member.privateIp, i);
    else {
      problems.add(
        `${field}.privateIp`,
        `${field}.privateIp is "${member.privateIp}", already used by members[${prevIp}] (${members[prevIp].name}): give each member its own address`
      );
    }
  });
}

/** `<name>.pem` and `<name>-key.pem` must be the member's alone: not the CA's, the admin's or another member's. */
function checkFileNames(members: readonly EtcdMemberProps[], problems: Problems): void {
  // Keyed without case, for the same reason as the names; undefined index: the directory's own files.
  const owners = new Map<string, { readonly what: string; readonly index?: number }>();
  for (const file of filesOf(CA)) owners.set(file, { what: "the CA's" });
  for (const file of filesOf(ADMIN)) owners.set(file, { what: "the admin certificate's" });
  members.forEach((member, i) => {
    if (typeof member.name !== "string" || !MEMBER_NAME.test(member.name)) return;
    for (const file of filesOf(member.name)) {
      const owner = owners.get(file.toLowerCase());
      // The same name twice is checkUnique's to report.
      const sameName = owner?.index !== undefined && members[owner.index].name.toLowerCase() === member.name.toLowerCase();
      if (owner !== undefined && !sameName) {
        problems.add(
          `members[${i}].name`,
          `members[${i}].name is "${member.name}", but its ${file} in the PKI directory is ${owner.what}: pick another name`
        );
        return;
      }
      owners.set(file.toLowerCase(), { what: `members[${i}] (${member.name})'s`, index: i });
    }
  });
}

/** Growing and shrinking: what etcd would refuse, or what would cost the cluster its quorum. */
function checkMembershipChanges(members: readonly EtcdMemberProps[], problems: Problems): void {
  const joining = (m: EtcdMemberProps) => (m.initialClusterState ?? "new") === "existing";
  if (members.every(joining)) {
    problems.add(
      "members",
      `every member has initialClusterState "existing": the members that bootstrap the cluster need "new" (the default); only members joining a running cluster take "existing"`
    );
    return;
  }
  const firstJoiner = members.findIndex(joining);
  members.forEach((m, i) => {
    if (firstJoiner >= 0 && i > firstJoiner && !joining(m)) {
      problems.add(
        `members[${i}].initialClusterState`,
        `members[${i}] (${m.name}) bootstraps the cluster ("new") but comes after members[${firstJoiner}] (${members[firstJoiner].name}), which joins it: list the bootstrap members first, joining members after them in the order they join`
      );
    }
    if (m.registerOnly && !joining(m)) {
      problems.add(
        `members[${i}].registerOnly`,
        `members[${i}].registerOnly is true but ${m.name} bootstraps the cluster: only a member with initialClusterState "existing" can be registered before it is launched`
      );
    }
  });
  const lastJoiner = members.map(joining).lastIndexOf(true);
  members.forEach((m, i) => {
    if (m.registerOnly && !m.removed && i !== lastJoiner) {
      problems.add(
        `members[${i}].registerOnly`,
        `members[${i}] (${m.name}) is registerOnly but members after it join too: etcd takes one learner at a time, so only the last joining member can wait unlaunched; launch ${m.name} first`
      );
    }
  });

  const removed = members.filter((m) => m.removed);
  const remaining = members.length - removed.length;
  const quorum = quorumOf(members.length);
  if (remaining === 0) {
    problems.add(
      "members",
      `every member has removed: true: etcd cannot remove its last member; to tear the cluster down, run cdktf destroy instead`
    );
  } else if (removed.length > 0 && remaining < quorum) {
    problems.add(
      "members",
      `${removed.length} of ${members.length} members have removed: true (${removed
        .map((m) => m.name)
        .join(", ")}), leaving ${remaining}, fewer than the quorum of ${quorum}: ` +
        `remove at most ${faultTolerance(
          members.length
        )} per deploy, and delete the entries of members removed by earlier deploys from the list`
    );
  }
}
