// Synth-time checks of EtcdClusterProps. Every message names the field, the bad value and the fix.
import { resolveInstallPlan } from "./etcd/releases";
import { validateTuning } from "./etcd/tuning";
import { architectureOf } from "./aws/architecture";
import { Token } from "./cdktf";
import { awsReservedAddresses, cidrContains, cidrSize, cidrWithin, formatIpv4, parseCidr, parseIpv4, type Ipv4Cidr } from "./net/ipv4";
import type { EtcdClusterProps, EtcdMemberProps } from "./props";

export const DEFAULT_VPC_CIDR = "172.16.0.0/16";
export const DEFAULT_SUBNET_CIDR = "172.16.0.0/24";
export const DEFAULT_INSTANCE_TYPE = "t3.small";

/** EC2 refuses user data over 16 KB before base64 encoding. */
export const USER_DATA_LIMIT_BYTES = 16384;

/** Names that would collide with the PKI directory's own files (ca.pem, admin.pem). */
const RESERVED_MEMBER_NAMES = new Set(["ca", "admin"]);

// A name is used in ETCD_INITIAL_CLUSTER ("a=url,b=url"), file names and tags: keep it plain.
const MEMBER_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;
const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9]+$/;
const AMI_ID = /^ami-[0-9a-f]{8}([0-9a-f]{9})?$/;
const AVAILABILITY_ZONE = /^[a-z]{2}(-[a-z]+)+-\d[a-z]$/;
const CLUSTER_TOKEN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const SANE_DNS_NAME = /^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export interface ValidationResult {
  readonly errors: string[];
  readonly warnings: string[];
}

export class EtcdClusterConfigError extends Error {
  constructor(readonly constructPath: string, readonly problems: readonly string[]) {
    super(
      `EtcdCluster ${constructPath}: ${problems.length} problem(s) in its configuration, nothing was synthesized:\n` +
        problems.map((p) => `  - ${p}`).join("\n")
    );
    this.name = "EtcdClusterConfigError";
  }
}

export function validateClusterProps(props: EtcdClusterProps): ValidationResult {
  const errors: string[] = [];
  const warnings: string[] = [];

  const network = validateNetwork(props, errors);
  validateMembers(props, network, errors, warnings);

  const instanceType = props.instanceType ?? DEFAULT_INSTANCE_TYPE;
  if (!INSTANCE_TYPE.test(instanceType)) {
    errors.push(`instanceType is ${JSON.stringify(instanceType)}: give an EC2 instance type such as "t3.small" or "m7g.large"`);
  }
  // A token (another resource's attribute) is resolved by Terraform; only literals can be checked here.
  if (props.ami !== undefined && !Token.isUnresolved(props.ami) && !AMI_ID.test(props.ami)) {
    errors.push(
      `ami is ${JSON.stringify(
        props.ami
      )}: give an AMI id such as "ami-0abcdef1234567890", or leave it out for the latest Amazon Linux 2023`
    );
  }
  if (
    props.availabilityZone !== undefined &&
    !Token.isUnresolved(props.availabilityZone) &&
    !AVAILABILITY_ZONE.test(props.availabilityZone)
  ) {
    errors.push(
      `availabilityZone is ${JSON.stringify(
        props.availabilityZone
      )}: give a zone name such as "us-east-1a", or leave it out for AWS to choose`
    );
  }
  if (props.rootVolumeSizeGiB !== undefined && !isIntegerIn(props.rootVolumeSizeGiB, 8, 16384)) {
    errors.push(`rootVolumeSizeGiB is ${props.rootVolumeSizeGiB}: give a whole number of GiB from 8 to 16384`);
  }
  if (props.initialClusterToken !== undefined && !CLUSTER_TOKEN.test(props.initialClusterToken)) {
    errors.push(
      `initialClusterToken is ${JSON.stringify(
        props.initialClusterToken
      )}: use 1-128 letters, digits, ".", "_" or "-", or leave it out for a unique default`
    );
  }
  if (props.joinTimeoutSeconds !== undefined && !isIntegerIn(props.joinTimeoutSeconds, 30, 86400)) {
    errors.push(
      `joinTimeoutSeconds is ${props.joinTimeoutSeconds}: give a whole number of seconds from 30 to 86400 (booting and installing etcd takes a few minutes)`
    );
  }
  if (props.keyDelivery !== undefined && !["ssm", "user-data"].includes(props.keyDelivery)) {
    errors.push(`keyDelivery is ${JSON.stringify(props.keyDelivery)}: use "ssm" (the default) or "user-data" for AMIs without the AWS CLI`);
  }
  if (props.kmsKeyId !== undefined && (props.keyDelivery ?? "ssm") !== "ssm") {
    errors.push(
      `kmsKeyId is ${JSON.stringify(
        props.kmsKeyId
      )} but keyDelivery is "user-data", which uses no KMS key: drop kmsKeyId or use keyDelivery "ssm"`
    );
  } else if (props.kmsKeyId !== undefined && props.kmsKeyId.trim() === "") {
    errors.push(`kmsKeyId is "": give a KMS key id, ARN or alias, or leave it out for the aws/ssm key`);
  }
  if (props.keyDelivery === "user-data") {
    warnings.push(
      `keyDelivery is "user-data": each member's private key sits in its EC2 user data, readable through ec2:DescribeInstanceAttribute, IMDS, cloud-init's cache and the Terraform state; use "ssm" unless the AMI has no AWS CLI`
    );
  }
  checkCidrList("clientCidrs", props.clientCidrs, errors);
  checkCidrList("sshCidrs", props.sshCidrs, errors);
  validatePki(props, errors);
  errors.push(...validateTuning(props.tuning, "tuning"));
  errors.push(...resolveInstallPlan(props.install, architectureOf(instanceType)).errors);

  return { errors, warnings };
}

/** The user data of one member, once rendered, must fit EC2's limit. */
export function checkUserDataSize(memberIndex: number, name: string, bytes: number): string | undefined {
  if (bytes <= USER_DATA_LIMIT_BYTES) return undefined;
  return (
    `members[${memberIndex}] (${name}): its user data is ${bytes} bytes, over EC2's limit of ${USER_DATA_LIMIT_BYTES}: ` +
    `shorten tuning.extraSettings or extraSans, or use a 2048-bit key (pki.keySize)`
  );
}

interface NetworkFacts {
  /** CIDR that members without their own subnet must lie in; undefined when unknown (existing subnet, no subnetCidr). */
  readonly defaultSubnet?: Ipv4Cidr;
}

function validateNetwork(props: EtcdClusterProps, errors: string[]): NetworkFacts {
  const existing = props.vpcId !== undefined || props.subnetId !== undefined;
  if (props.vpcId !== undefined && props.subnetId === undefined) {
    errors.push(`vpcId is ${JSON.stringify(props.vpcId)} but subnetId is missing: give the subnet the members go in as subnetId`);
  }
  if (props.subnetId !== undefined && props.vpcId === undefined) {
    errors.push(`subnetId is ${JSON.stringify(props.subnetId)} but vpcId is missing: give the subnet's VPC as vpcId`);
  }
  if (existing && props.vpcCidr !== undefined) {
    errors.push(
      `vpcCidr is ${JSON.stringify(props.vpcCidr)} but only a VPC this construct creates takes a CIDR: drop vpcCidr or drop vpcId/subnetId`
    );
  }
  if (existing && props.availabilityZone !== undefined) {
    errors.push(
      `availabilityZone is ${JSON.stringify(props.availabilityZone)} but an existing subnet already has its zone: drop availabilityZone`
    );
  }

  const vpc = existing ? undefined : cidrField("vpcCidr", props.vpcCidr ?? DEFAULT_VPC_CIDR, errors);
  if (vpc && (vpc.prefixLength < 16 || vpc.prefixLength > 28)) {
    errors.push(`vpcCidr is "${vpc.text}": AWS accepts VPC prefixes from /16 to /28, e.g. "172.16.0.0/16"`);
  }
  const subnetText = props.subnetCidr ?? (existing ? undefined : DEFAULT_SUBNET_CIDR);
  const subnet = subnetText === undefined ? undefined : cidrField("subnetCidr", subnetText, errors);
  if (subnet && (subnet.prefixLength < 16 || subnet.prefixLength > 28)) {
    errors.push(`subnetCidr is "${subnet.text}": AWS accepts subnet prefixes from /16 to /28, e.g. "172.16.0.0/24"`);
  }
  if (vpc && subnet && !cidrWithin(subnet, vpc)) {
    errors.push(`subnetCidr is "${subnet.text}" but it is not inside vpcCidr "${vpc.text}": pick a subnet inside the VPC`);
  }
  return { defaultSubnet: subnet };
}

function validateMembers(props: EtcdClusterProps, network: NetworkFacts, errors: string[], warnings: string[]): void {
  const members = props.members;
  if (!Array.isArray(members) || members.length === 0) {
    errors.push(
      `members is ${JSON.stringify(
        members
      )}: give at least one member, e.g. [{ name: "etcd_node1", privateIp: "172.16.0.101" }] (three for a cluster that survives a failure)`
    );
    return;
  }

  const namesSeen = new Map<string, number>();
  const ipsSeen = new Map<string, number>();
  members.forEach((member, i) => {
    const field = `members[${i}]`;
    validateMember(member, field, props, network, errors);
    const prevName = namesSeen.get(member.name);
    if (prevName !== undefined) {
      errors.push(`${field}.name is "${member.name}", already used by members[${prevName}]: give each member its own name`);
    } else namesSeen.set(member.name, i);
    const prevIp = ipsSeen.get(member.privateIp);
    if (prevIp !== undefined) {
      errors.push(
        `${field}.privateIp is "${member.privateIp}", already used by members[${prevIp}] (${members[prevIp].name}): give each member its own address`
      );
    } else ipsSeen.set(member.privateIp, i);
  });

  const voters = members.filter((m) => !m.removed && !m.registerOnly).length;
  if (voters > 0 && voters % 2 === 0) {
    warnings.push(
      `the cluster has ${voters} members: an even count tolerates no more failures than ${voters - 1} (quorum is ${
        voters / 2 + 1
      }); use an odd number`
    );
  }
  if (voters > 7) {
    warnings.push(
      `the cluster has ${voters} members: every write waits for a majority, so more than 7 slows writes with little gain in tolerance; etcd recommends 3, 5 or 7`
    );
  }
  validateMembershipChanges(members, errors);
}

/** Growing and shrinking: what etcd would refuse, or what would cost the cluster its quorum. */
function validateMembershipChanges(members: readonly EtcdMemberProps[], errors: string[]): void {
  const joining = (m: EtcdMemberProps) => (m.initialClusterState ?? "new") === "existing";
  if (members.every(joining)) {
    errors.push(
      `every member has initialClusterState "existing": the members that bootstrap the cluster need "new" (the default); only members joining a running cluster take "existing"`
    );
    return;
  }
  const firstJoiner = members.findIndex(joining);
  members.forEach((m, i) => {
    if (firstJoiner >= 0 && i > firstJoiner && !joining(m)) {
      errors.push(
        `members[${i}] (${m.name}) bootstraps the cluster ("new") but comes after members[${firstJoiner}] (${members[firstJoiner].name}), which joins it: list the bootstrap members first, joining members after them in the order they join`
      );
    }
    if (m.registerOnly && !joining(m)) {
      errors.push(
        `members[${i}].registerOnly is true but ${m.name} bootstraps the cluster: only a member with initialClusterState "existing" can be registered before it is launched`
      );
    }
  });
  const registerOnly = members.map((m, i) => ({ m, i })).filter(({ m }) => m.registerOnly && !m.removed);
  const lastJoiner = members.map(joining).lastIndexOf(true);
  registerOnly.forEach(({ m, i }) => {
    if (i !== lastJoiner) {
      errors.push(
        `members[${i}] (${m.name}) is registerOnly but members after it join too: etcd takes one learner at a time, so only the last joining member can wait unlaunched; launch ${m.name} first`
      );
    }
  });

  const removed = members.filter((m) => m.removed);
  const remaining = members.length - removed.length;
  const quorum = Math.floor(members.length / 2) + 1;
  if (remaining === 0) {
    errors.push(`every member has removed: true: etcd cannot remove its last member; to tear the cluster down, run cdktf destroy instead`);
  } else if (removed.length > 0 && remaining < quorum) {
    errors.push(
      `${removed.length} of ${members.length} members have removed: true (${removed
        .map((m) => m.name)
        .join(", ")}), leaving ${remaining}, fewer than the quorum of ${quorum}: ` +
        `remove at most ${members.length - quorum} per deploy, and delete the entries of members removed by earlier deploys from the list`
    );
  }
}

function validateMember(member: EtcdMemberProps, field: string, props: EtcdClusterProps, network: NetworkFacts, errors: string[]): void {
  if (typeof member.name !== "string" || !MEMBER_NAME.test(member.name)) {
    errors.push(
      `${field}.name is ${JSON.stringify(
        member.name
      )}: use 1-63 letters, digits, "_" or "-", starting with a letter or digit, e.g. "etcd_node1" (it goes into ETCD_INITIAL_CLUSTER, file names and tags)`
    );
  } else if (RESERVED_MEMBER_NAMES.has(member.name)) {
    errors.push(`${field}.name is "${member.name}", which the PKI directory uses for its own ${member.name}.pem: pick another name`);
  }

  const ip = typeof member.privateIp === "string" ? parseIpv4(member.privateIp) : undefined;
  if (ip === undefined) {
    errors.push(`${field}.privateIp is ${JSON.stringify(member.privateIp)}: give an IPv4 address such as "172.16.0.101"`);
  }

  if (member.initialClusterState !== undefined && !["new", "existing"].includes(member.initialClusterState)) {
    errors.push(
      `${field}.initialClusterState is ${JSON.stringify(
        member.initialClusterState
      )}: use "new" for bootstrap members or "existing" for a member joining a running cluster`
    );
  }

  let subnet = network.defaultSubnet;
  let subnetField = props.subnetCidr !== undefined ? "subnetCidr" : "the default subnet";
  if (member.subnetCidr !== undefined) {
    subnet = cidrField(`${field}.subnetCidr`, member.subnetCidr, errors);
    subnetField = `${field}.subnetCidr`;
    if (member.subnetId === undefined) {
      errors.push(
        `${field}.subnetCidr is "${member.subnetCidr}" but ${field}.subnetId is missing: give the subnet's id, or drop subnetCidr`
      );
    }
  } else if (member.subnetId !== undefined) {
    subnet = undefined;
  }
  if (member.subnetId !== undefined && props.vpcId === undefined) {
    errors.push(
      `${field}.subnetId is ${JSON.stringify(
        member.subnetId
      )} but the cluster creates its own VPC: give vpcId and subnetId for the cluster too, or drop ${field}.subnetId`
    );
  }

  if (ip !== undefined && subnet !== undefined) {
    const first = formatIpv4(subnet.network + 4);
    const last = formatIpv4(subnet.network + cidrSize(subnet) - 2);
    if (!cidrContains(subnet, ip)) {
      errors.push(
        `${field}.privateIp is "${member.privateIp}" but it is outside ${subnetField} "${subnet.text}": pick an address from ${first} to ${last}`
      );
    } else if (awsReservedAddresses(subnet).includes(ip)) {
      errors.push(
        `${field}.privateIp is "${member.privateIp}", which AWS reserves in "${subnet.text}" (network, router, DNS, future use, broadcast): pick an address from ${first} to ${last}`
      );
    }
  }

  (member.extraSans ?? []).forEach((san, j) => {
    if (parseIpv4(san) === undefined && !SANE_DNS_NAME.test(san)) {
      errors.push(
        `${field}.extraSans[${j}] is ${JSON.stringify(san)}: give an IPv4 address or a DNS name such as "etcd1.example.internal"`
      );
    }
  });
}

function validatePki(props: EtcdClusterProps, errors: string[]): void {
  const pki = props.pki ?? {};
  if (pki.keySize !== undefined && ![2048, 3072, 4096].includes(pki.keySize)) {
    errors.push(`pki.keySize is ${pki.keySize}: use 2048, 3072 or 4096 (etcd accepts RSA 2048 and up; bigger keys make bigger user data)`);
  }
  if (pki.caValidityDays !== undefined && !isIntegerIn(pki.caValidityDays, 1, 36500)) {
    errors.push(`pki.caValidityDays is ${pki.caValidityDays}: give a whole number of days from 1 to 36500`);
  }
  if (pki.certificateValidityDays !== undefined && !isIntegerIn(pki.certificateValidityDays, 1, 36500)) {
    errors.push(`pki.certificateValidityDays is ${pki.certificateValidityDays}: give a whole number of days from 1 to 36500`);
  }
  if (pki.directory !== undefined && (typeof pki.directory !== "string" || pki.directory.trim() === "")) {
    errors.push(`pki.directory is ${JSON.stringify(pki.directory)}: give a directory path, or leave it out for .etcd-pki/<construct path>`);
  }
}

function cidrField(field: string, text: string, errors: string[]): Ipv4Cidr | undefined {
  const cidr = parseCidr(text);
  if (!cidr) errors.push(`${field} is ${JSON.stringify(text)}: give a network in CIDR form with its host bits zero, e.g. "172.16.0.0/24"`);
  return cidr;
}

function checkCidrList(field: string, list: readonly string[] | undefined, errors: string[]): void {
  (list ?? []).forEach((text, i) => cidrField(`${field}[${i}]`, text, errors));
}

function isIntegerIn(value: number, min: number, max: number): boolean {
  return Number.isInteger(value) && value >= min && value <= max;
}
