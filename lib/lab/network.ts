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
}

const BRIDGE = "br0";
const ETH = "eth0";

export function planLabNetwork(labName: string, stack: LabStack): LabNetwork {
  const members: Record<string, LabEndpoint> = {};
  for (const m of stack.members) members[m.name] = memberEndpoint(labName, m.name, m.privateIp);
  return {
    bridgeNetns: `${labName}-br`,
    cidr: stack.cidr,
    prefixLength: stack.prefixLength,
    deployer: { netns: `${labName}-deployer`, ip: deployerIp(stack), bridgePort: "v-deployer" },
    members,
  };
}

/** A member's namespace and bridge port. */
export function memberEndpoint(labName: string, member: string, ip: string): LabEndpoint {
  if (member === "br" || member === "deployer") {
    throw new Error(`member name "${member}" clashes with the lab's own namespace names`);
  }
  // Interface names are capped at 15 characters; a hash keeps any member name within it.
  const port = `v-${createHash("sha256").update(member).digest("hex").slice(0, 12)}`;
  return { netns: `${labName}-${member}`, ip, bridgePort: port };
}

/** The highest host address of the prefix that no member has. */
function deployerIp(stack: LabStack): string {
  const net = parseCidr(stack.cidr)!;
  const taken = new Set(stack.members.map((m) => parseIpv4(m.privateIp)));
  for (let a = net.network + cidrSize(net) - 2; a > net.network; a--) if (!taken.has(a)) return formatIpv4(a);
  throw new Error(`no free address for the deployer in ${stack.cidr}`);
}

/** All namespaces of the plan, bridge first. */
export function labNamespaces(net: LabNetwork): string[] {
  return [net.bridgeNetns, ...Object.values(net.members).map((e) => e.netns), net.deployer.netns];
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
  addEndpoint(net, "deployer", net.deployer, record);
}

/** Creates an endpoint's namespace holding `ip` on eth0, plugged into the bridge. */
export function addEndpoint(net: LabNetwork, label: string, e: LabEndpoint, record: (netns: string) => void): void {
  const br = net.bridgeNetns;
  record(e.netns);
  runSync(["ip", "netns", "add", e.netns]);
  // Created inside the namespaces: the host's namespace never sees these links.
  runSync(["ip", "-n", br, "link", "add", e.bridgePort, "type", "veth", "peer", "name", ETH, "netns", e.netns]);
  runSync(["ip", "-n", br, "link", "set", e.bridgePort, "master", BRIDGE, "alias", label, "up"]);
  runSync(["ip", "-n", e.netns, "link", "set", "lo", "up"]);
  runSync(["ip", "-n", e.netns, "addr", "add", `${e.ip}/${net.prefixLength}`, "dev", ETH]);
  runSync(["ip", "-n", e.netns, "link", "set", ETH, "up"]);
}

/**
 * The address EC2 instances reach instance metadata at. In the lab the deployer holds it (on its
 * loopback, where the lab's AWS endpoint listens) and each machine routes it via the deployer.
 */
export const METADATA_IP = "169.254.169.254";

export function addMetadataAddress(net: LabNetwork): void {
  runSync(["ip", "-n", net.deployer.netns, "addr", "add", `${METADATA_IP}/32`, "dev", "lo"]);
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
