import { createHash } from "node:crypto";
import { cidrSize, formatIpv4, parseCidr, parseIpv4 } from "../net/ipv4";
import { runSync } from "./command";
import { LabStack } from "./stack";

/** A namespace on the lab bridge: its address on `eth0` and the veth end on the bridge. */
export interface LabEndpoint {
  readonly netns: string;
  readonly ip: string;
  /** The veth end in the bridge namespace; taking it down cuts the endpoint off. */
  readonly bridgePort: string;
}

/**
 * The lab network: a namespace holding only a bridge (so nothing is added to the host's network
 * namespace), one namespace per member and one for the deployer's tools, each on a veth into the
 * bridge. There are no routes beyond the prefix, so nothing can leave the lab.
 */
export interface LabNetwork {
  readonly bridgeNetns: string;
  readonly cidr: string;
  readonly prefixLength: number;
  readonly deployer: LabEndpoint;
  readonly members: Record<string, LabEndpoint>;
  /**
   * Set when the deployer stands outside the VPC, as a laptop or a CI runner does: it then has no
   * route to the members (it holds its address as a /32, and only the AWS endpoint's replies to the
   * members' own requests find a way back), so only the SSM transport reaches them. The lab's own
   * probes (health, etcdctl) then run from this observer, an address inside the network.
   */
  readonly observer?: LabEndpoint;
}

const BRIDGE = "br0";
const ETH = "eth0";

export function planLabNetwork(labName: string, stack: LabStack, options: { deployerOutside?: boolean } = {}): LabNetwork {
  const members: Record<string, LabEndpoint> = {};
  for (const m of stack.members) members[m.name] = memberEndpoint(labName, m.name, m.privateIp);
  const [deployer, observer] = freeAddresses(stack, 2);
  return {
    bridgeNetns: `${labName}-br`,
    cidr: stack.cidr,
    prefixLength: stack.prefixLength,
    deployer: { netns: `${labName}-deployer`, ip: deployer, bridgePort: "v-deployer" },
    members,
    ...(options.deployerOutside ? { observer: { netns: `${labName}-observer`, ip: observer, bridgePort: "v-observer" } } : {}),
  };
}

/** A member's namespace and bridge port. */
export function memberEndpoint(labName: string, member: string, ip: string): LabEndpoint {
  if (member === "br" || member === "deployer" || member === "observer") {
    throw new Error(`member name "${member}" clashes with the lab's own namespace names`);
  }
  // Interface names are capped at 15 characters; a hash keeps any member name within it.
  const port = `v-${createHash("sha256").update(member).digest("hex").slice(0, 12)}`;
  return { netns: `${labName}-${member}`, ip, bridgePort: port };
}

/** The highest host addresses of the prefix that no member has: the deployer's, then the observer's. */
function freeAddresses(stack: LabStack, count: number): string[] {
  const net = parseCidr(stack.cidr)!;
  const taken = new Set(stack.members.map((m) => parseIpv4(m.privateIp)));
  const free: string[] = [];
  for (let a = net.network + cidrSize(net) - 2; a > net.network && free.length < count; a--) if (!taken.has(a)) free.push(formatIpv4(a));
  if (free.length < count) throw new Error(`no free address for the deployer in ${stack.cidr}`);
  return free;
}

/** All namespaces of the plan, bridge first. */
export function labNamespaces(net: LabNetwork): string[] {
  return [
    net.bridgeNetns,
    ...Object.values(net.members).map((e) => e.netns),
    net.deployer.netns,
    ...(net.observer ? [net.observer.netns] : []),
  ];
}

/**
 * Creates the bridge namespace and the deployer's endpoint (members join with addEndpoint as their
 * instances are created); `record` is told each namespace name before it is created.
 */
export function createBridgeAndDeployer(net: LabNetwork, record: (netns: string) => void): void {
  const br = net.bridgeNetns;
  record(br);
  runSync(["ip", "netns", "add", br]);
  runSync(["ip", "-n", br, "link", "set", "lo", "up"]);
  runSync(["ip", "-n", br, "link", "add", BRIDGE, "type", "bridge"]);
  runSync(["ip", "-n", br, "link", "set", BRIDGE, "up"]);
  if (!net.observer) {
    addEndpoint(net, "deployer", net.deployer, record);
    return;
  }
  // Outside the VPC: a /32 brings no route to the prefix with it.
  addEndpoint(net, "deployer", net.deployer, record, 32);
  addEndpoint(net, "observer", net.observer, record);
}

/**
 * The deployer's way back to the members for what they ask of the AWS endpoint, and for nothing
 * else: replies from the metadata address go by a table of their own. A connection the deployer
 * opens to a member has no route ("Network is unreachable"), as from a laptop.
 */
function routeEndpointRepliesOnly(net: LabNetwork): void {
  const ns = net.deployer.netns;
  runSync(["ip", "-n", ns, "route", "add", net.cidr, "dev", ETH, "table", REPLY_TABLE]);
  runSync(["ip", "-n", ns, "rule", "add", "from", METADATA_IP, "lookup", REPLY_TABLE]);
}
const REPLY_TABLE = "100";

/** Creates an endpoint's namespace holding `ip` on eth0, plugged into the bridge. */
export function addEndpoint(
  net: LabNetwork,
  label: string,
  e: LabEndpoint,
  record: (netns: string) => void,
  prefixLength = net.prefixLength
): void {
  const br = net.bridgeNetns;
  record(e.netns);
  runSync(["ip", "netns", "add", e.netns]);
  // Created inside the namespaces: the host's namespace never sees these links.
  runSync(["ip", "-n", br, "link", "add", e.bridgePort, "type", "veth", "peer", "name", ETH, "netns", e.netns]);
  runSync(["ip", "-n", br, "link", "set", e.bridgePort, "master", BRIDGE, "alias", label, "up"]);
  runSync(["ip", "-n", e.netns, "link", "set", "lo", "up"]);
  runSync(["ip", "-n", e.netns, "addr", "add", `${e.ip}/${prefixLength}`, "dev", ETH]);
  runSync(["ip", "-n", e.netns, "link", "set", ETH, "up"]);
}

/**
 * The address EC2 instances reach instance metadata at. In the lab the deployer holds it (on its
 * loopback, where the lab's AWS endpoint listens) and each machine routes it via the deployer.
 */
export const METADATA_IP = "169.254.169.254";

export function addMetadataAddress(net: LabNetwork): void {
  runSync(["ip", "-n", net.deployer.netns, "addr", "add", `${METADATA_IP}/32`, "dev", "lo"]);
  if (net.observer) routeEndpointRepliesOnly(net);
}

export function routeMetadata(net: LabNetwork, e: LabEndpoint): void {
  runSync(["ip", "-n", e.netns, "route", "add", `${METADATA_IP}/32`, "via", net.deployer.ip, "dev", ETH]);
}

/** Takes an endpoint's bridge port down (a partition) or up again. */
export function setBridgePort(net: LabNetwork, endpoint: LabEndpoint, up: boolean): void {
  runSync(["ip", "-n", net.bridgeNetns, "link", "set", endpoint.bridgePort, up ? "up" : "down"]);
}

/** Named network namespaces on this host. */
export function existingNamespaces(): string[] {
  return runSync(["ip", "netns", "list"])
    .split("\n")
    .map((line) => line.split(" ")[0])
    .filter((name) => name !== "");
}

/** Deletes those of `names` that exist. */
export function deleteNamespaces(names: string[]): void {
  const existing = new Set(existingNamespaces());
  for (const name of names) if (existing.has(name)) runSync(["ip", "netns", "delete", name]);
}
