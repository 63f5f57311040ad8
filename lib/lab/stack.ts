import { readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { gunzipSync } from "node:zlib";
import { MEMBER_NAME } from "../config/resolve-members";
import { parseEnvironmentFile } from "../etcd/etcd-conf";
import { cidrContains, formatIpv4, Ipv4Cidr, parseCidr, parseIpv4 } from "../net/ipv4";
import { parseCloudConfig } from "../host/cloud-config";
import { unescapeTemplate } from "../terraform-string";
import { parseServiceUnit, ServiceUnit } from "./systemd-unit";

/** One `write_files` entry with cloud-init's defaults applied. */
export interface LabFile {
  readonly path: string;
  readonly content: string;
  /** Permission bits, e.g. 0o600. */
  readonly mode: number;
  /** "user:group" (cloud-init's default root:root), resolved on this host when written. */
  readonly owner: string;
  /** Written in cloud-init's final stage, after `users` are created. */
  readonly defer: boolean;
}

/** The etcd service unit a member's user data writes, and where. */
export interface LabUnit extends ServiceUnit {
  readonly path: string;
}

/** One member as its instance's arguments describe it. */
export interface LabMember {
  /** The `etcd:member` tag, equal to the member's ETCD_NAME. */
  readonly name: string;
  readonly privateIp: string;
  /** The user data, exactly as the VM receives it. */
  readonly userData: string;
  /** The user data's write_files, in order. */
  readonly files: LabFile[];
  readonly unit: LabUnit;
  /** The unit's EnvironmentFile, parsed. */
  readonly conf: Record<string, string>;
  /** The instance's tags (etcd:cluster among them: how the SSM transport finds it). */
  readonly tags: Record<string, string>;
}

export interface LabStack {
  readonly stackDir: string;
  readonly members: LabMember[];
  /** The network the members share: the VPC's CIDR, or the /24 (else /16) holding every member IP. */
  readonly cidr: string;
  readonly prefixLength: number;
}

type Resources = Record<string, Record<string, Record<string, unknown>>>;

/** Reads the members of a synthesized stack directory (its cdk.tf.json). */
export function readLabStack(stackDir: string): LabStack {
  const file = join(stackDir, "cdk.tf.json");
  let resources: Resources;
  try {
    resources = (JSON.parse(readFileSync(file, "utf8")) as { resource?: Resources }).resource ?? {};
  } catch (e) {
    throw new Error(`cannot read the synthesized stack ${file}: ${(e as Error).message}`);
  }

  const members = Object.entries(resources.aws_instance ?? {})
    // count 0 is how the construct keeps a removed member's resource without an instance.
    .filter(([, instance]) => instance.count !== 0)
    .map(([logicalId, instance]) => readMember(`aws_instance.${logicalId}`, { ...instance, user_data: userData(instance, logicalId) }));
  if (members.length === 0) throw new Error(`${file}: no aws_instance with an etcd:member tag`);
  for (const key of ["name", "privateIp"] as const) {
    const seen = new Set<string>();
    for (const m of members) {
      if (seen.has(m[key])) throw new Error(`${file}: two members with ${key} ${m[key]}`);
      seen.add(m[key]);
    }
  }

  const network = chooseNetwork(
    resources,
    members.map((m) => parseIpv4(m.privateIp)!)
  );
  return { stackDir, members, cidr: network.text, prefixLength: network.prefixLength };
}

/**
 * Reads a member from its instance's arguments: the etcd:member tag, private_ip, and user_data as
 * the VM gets it (Terraform has read its template escapes).
 */
export function readMember(where: string, instance: { tags?: unknown; private_ip?: unknown; user_data: string }): LabMember {
  const tags = (instance.tags ?? {}) as Record<string, string>;
  const name = tags["etcd:member"];
  if (typeof name !== "string" || !MEMBER_NAME.test(name)) {
    throw new Error(`${where}: missing or invalid "etcd:member" tag`);
  }
  if (typeof instance.private_ip !== "string" || parseIpv4(instance.private_ip) === undefined) {
    throw new Error(`${where}: private_ip is not a literal IPv4 address`);
  }

  const files: LabFile[] = (parseCloudConfig(instance.user_data).writeFiles ?? []).map((f) => ({
    path: f.path,
    content: f.content,
    mode: parseInt(f.permissions, 8),
    owner: f.owner ?? "root:root",
    defer: f.defer ?? false,
  }));
  const unitFile = files.find((f) => f.path.endsWith(".service") && execStartBinary(f.content) === "etcd");
  if (!unitFile) throw new Error(`${where}: the user data writes no service unit whose ExecStart runs etcd`);
  const unit = { path: unitFile.path, ...parseServiceUnit(unitFile.content, unitFile.path) };
  const confFile = files.find((f) => f.path === unit.environmentFile);
  if (!confFile) throw new Error(`${where}: EnvironmentFile ${unit.environmentFile} is not in the user data`);
  const conf = parseEnvironmentFile(confFile.content);
  if (conf.ETCD_NAME !== name) {
    throw new Error(`${where}: ETCD_NAME "${conf.ETCD_NAME}" differs from the etcd:member tag "${name}"`);
  }
  const literalTags = Object.fromEntries(Object.entries(tags).filter((e): e is [string, string] => typeof e[1] === "string"));
  return { name, privateIp: instance.private_ip, userData: instance.user_data, files, unit, conf, tags: literalTags };
}

function userData(instance: Record<string, unknown>, logicalId: string): string {
  const where = `aws_instance.${logicalId}`;
  // Terraform reads cdk.tf.json strings as templates; the VM gets them with $${ and %%{ undone.
  if (typeof instance.user_data === "string") return unescapeTemplate(instance.user_data);
  if (typeof instance.user_data_base64 === "string") {
    return gunzipSync(Buffer.from(instance.user_data_base64, "base64")).toString("utf8");
  }
  throw new Error(`${where}: no literal user_data or user_data_base64`);
}

function execStartBinary(unitText: string): string | undefined {
  const m = /^\s*ExecStart\s*=\s*[-:+!@]*(\S+)/m.exec(unitText);
  return m ? basename(m[1]) : undefined;
}

function chooseNetwork(resources: Resources, ips: number[]): Ipv4Cidr {
  for (const vpc of Object.values(resources.aws_vpc ?? {})) {
    const net = typeof vpc.cidr_block === "string" ? parseCidr(vpc.cidr_block) : undefined;
    if (net && ips.every((ip) => cidrContains(net, ip))) return net;
  }
  for (const prefixLength of [24, 16]) {
    const size = 2 ** (32 - prefixLength);
    const net = parseCidr(`${formatIpv4(Math.floor(ips[0] / size) * size)}/${prefixLength}`)!;
    if (ips.every((ip) => cidrContains(net, ip))) return net;
  }
  throw new Error(`member IPs span more than a /16 and no VPC CIDR holds them all`);
}

/** The URL the deployer reaches a member's client API at: its first advertised client URL. */
export function clientUrl(member: LabMember): string {
  const url = member.conf.ETCD_ADVERTISE_CLIENT_URLS?.split(",")[0].trim();
  if (!url) throw new Error(`${member.name}: no ETCD_ADVERTISE_CLIENT_URLS`);
  return url;
}
