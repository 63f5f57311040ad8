import { Token } from "../cdktf";
import { cidrWithin, formatIpv4, parseCidr, type Ipv4Cidr } from "../net/ipv4";
import type { EtcdClusterProps } from "../props";
import type { Problems } from "./config-error";
import { DEFAULTS } from "./defaults";
import type { NetworkChoice } from "./resolved-cluster";

const AVAILABILITY_ZONE = /^[a-z]{2}(-[a-z]+)+-\d[a-z]$/;

export interface ResolvedNetwork {
  readonly choice: NetworkChoice;
  /** The CIDR members without a subnet of their own must lie in; undefined when unknown (an existing subnet without subnetCidr). */
  readonly defaultSubnet?: Ipv4Cidr;
  /** How problems name that CIDR. */
  readonly defaultSubnetField: string;
}

export function resolveNetwork(props: EtcdClusterProps, problems: Problems): ResolvedNetwork {
  const existing = props.vpcId !== undefined || props.subnetId !== undefined;
  if (props.vpcId !== undefined && props.subnetId === undefined) {
    problems.add(
      "subnetId",
      `vpcId is ${JSON.stringify(props.vpcId)} but subnetId is missing: give the subnet the members go in as subnetId`
    );
  }
  if (props.subnetId !== undefined && props.vpcId === undefined) {
    problems.add("vpcId", `subnetId is ${JSON.stringify(props.subnetId)} but vpcId is missing: give the subnet's VPC as vpcId`);
  }
  if (existing && props.vpcCidr !== undefined) {
    problems.add(
      "vpcCidr",
      `vpcCidr is ${JSON.stringify(props.vpcCidr)} but only a VPC this construct creates takes a CIDR: drop vpcCidr or drop vpcId/subnetId`
    );
  }
  if (existing && props.availabilityZone !== undefined) {
    problems.add(
      "availabilityZone",
      `availabilityZone is ${JSON.stringify(props.availabilityZone)} but an existing subnet already has its zone: drop availabilityZone`
    );
  }
  // A token (another resource's attribute) is resolved by Terraform; only literals can be checked here.
  if (
    props.availabilityZone !== undefined &&
    !Token.isUnresolved(props.availabilityZone) &&
    !AVAILABILITY_ZONE.test(props.availabilityZone)
  ) {
    problems.add(
      "availabilityZone",
      `availabilityZone is ${JSON.stringify(
        props.availabilityZone
      )}: give a zone name such as "us-east-1a", or leave it out for AWS to choose`
    );
  }

  const vpcText = props.vpcCidr ?? DEFAULTS.vpcCidr;
  const vpc = existing ? undefined : cidrField("vpcCidr", vpcText, problems);
  if (vpc && (vpc.prefixLength < 16 || vpc.prefixLength > 28)) {
    problems.add("vpcCidr", `vpcCidr is "${vpc.text}": AWS accepts VPC prefixes from /16 to /28, e.g. "172.16.0.0/16"`);
  }
  const subnetText = props.subnetCidr ?? (existing ? undefined : DEFAULTS.subnetCidr);
  const subnet = subnetText === undefined ? undefined : cidrField("subnetCidr", subnetText, problems);
  if (subnet && (subnet.prefixLength < 16 || subnet.prefixLength > 28)) {
    problems.add("subnetCidr", `subnetCidr is "${subnet.text}": AWS accepts subnet prefixes from /16 to /28, e.g. "172.16.0.0/24"`);
  }
  if (vpc && subnet && !cidrWithin(subnet, vpc)) {
    problems.add("subnetCidr", `subnetCidr is "${subnet.text}" but it is not inside vpcCidr "${vpc.text}": pick a subnet inside the VPC`);
  }

  const choice: NetworkChoice = existing
    ? { kind: "existing", vpcId: props.vpcId ?? "", subnetId: props.subnetId ?? "" }
    : { kind: "new", vpcCidr: vpcText, subnetCidr: subnetText ?? DEFAULTS.subnetCidr, availabilityZone: props.availabilityZone };
  return {
    choice,
    defaultSubnet: subnet,
    defaultSubnetField: props.subnetCidr !== undefined ? "subnetCidr" : "the default subnet",
  };
}

/** A CIDR, or a problem naming `field`: AWS wants the network address, host bits zero. */
export function cidrField(field: string, text: string, problems: Problems): Ipv4Cidr | undefined {
  const cidr = typeof text === "string" ? parseCidr(text) : undefined;
  if (!cidr)
    problems.add(field, `${field} is ${JSON.stringify(text)}: give a network in CIDR form with its host bits zero, e.g. "172.16.0.0/24"`);
  return cidr;
}

/** A list of CIDRs, each valid and each listed once. */
export function cidrList(field: string, list: readonly string[] | undefined, problems: Problems): string[] {
  const seen = new Map<string, number>();
  const cidrs: string[] = [];
  (list ?? []).forEach((text, i) => {
    const cidr = cidrField(`${field}[${i}]`, text, problems);
    if (!cidr) return;
    const key = `${formatIpv4(cidr.network)}/${cidr.prefixLength}`;
    const first = seen.get(key);
    if (first !== undefined) {
      problems.add(
        `${field}[${i}]`,
        `${field}[${i}] is ${JSON.stringify(text)}, already listed as ${field}[${first}]: list each network once`
      );
      return;
    }
    seen.set(key, i);
    cidrs.push(cidr.text);
  });
  return cidrs;
}
