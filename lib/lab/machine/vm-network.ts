import { createHash } from "node:crypto";
import { runSync } from "../command";

/**
 * A VM's place on the lab network. The member's namespace already holds eth0, a veth into the
 * lab's bridge, with the member's IP. A VM's IP must live in the guest instead: the namespace
 * becomes a switch (eth0 and the VM's tap on one bridge, no address of its own), and the guest
 * gets the IP and the metadata route from its kernel command line.
 */
export interface VmNet {
  /** The member's IP, which the guest holds on its eth0. */
  readonly ip: string;
  readonly prefixLength: number;
  /** The guest's gateway, through which it reaches 169.254.169.254 (the lab's deployer, as routeMetadata routes containers). */
  readonly gateway: string;
}

/** The tap qemu attaches to (by name, in the namespace it runs in). */
export const VM_TAP = "tap0";
const VM_BRIDGE = "br-vm";
const ETH = "eth0";

function linkExists(netns: string, link: string): boolean {
  try {
    runSync(["ip", "-n", netns, "link", "show", "dev", link]);
    return true;
  } catch {
    return false;
  }
}

/**
 * Turns the member's namespace into the VM's switch; idempotent (a stopped VM's tap stays for its
 * next start). Returns the IPv4 address eth0 held, which the guest must take over; undefined when
 * it held none (already prepared). There is no undo: deleting the namespace removes the bridge and
 * the tap with it, and a member never goes back from VM to container.
 */
export function prepareVmNetwork(netns: string): { ip: string; prefixLength: number } | undefined {
  const addresses = JSON.parse(runSync(["ip", "-n", netns, "-j", "-4", "addr", "show", "dev", ETH])) as {
    addr_info?: { local: string; prefixlen: number }[];
  }[];
  const held = addresses[0]?.addr_info?.[0];
  if (!linkExists(netns, VM_BRIDGE)) {
    runSync(["ip", "-n", netns, "link", "add", VM_BRIDGE, "type", "bridge"]);
    // A switch port has no business with IPv6 either: no link-local address, no solicitations.
    runSync(["ip", "netns", "exec", netns, "sysctl", "-q", "-w", `net.ipv6.conf.${VM_BRIDGE}.disable_ipv6=1`]);
  }
  // Two holders of one IP on the lab bridge would answer ARP both: the namespace lets go of it
  // (and of the routes through it) before the guest boots.
  runSync(["ip", "-n", netns, "addr", "flush", "dev", ETH]);
  runSync(["ip", "-n", netns, "route", "flush", "dev", ETH]);
  if (!linkExists(netns, VM_TAP)) runSync(["ip", "-n", netns, "tuntap", "add", "dev", VM_TAP, "mode", "tap"]);
  for (const port of [ETH, VM_TAP]) runSync(["ip", "-n", netns, "link", "set", port, "master", VM_BRIDGE, "up"]);
  runSync(["ip", "-n", netns, "link", "set", VM_BRIDGE, "up"]);
  return held ? { ip: held.local, prefixLength: held.prefixlen } : undefined;
}

function netmask(prefixLength: number): string {
  const bits = prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
  return [24, 16, 8, 0].map((shift) => (bits >>> shift) & 0xff).join(".");
}

/**
 * The guest's network, as kernel command line words that systemd-network-generator turns into a
 * networkd config on every boot: the IP on eth0 (net.ifnames=0 keeps EC2's name) and the gateway,
 * which the guest reaches instance metadata through. That is a default route, as EC2's VPC router
 * is; on the lab's bridge it leads nowhere else (the deployer forwards nothing). The generator's
 * rd.route= for a /32 alone was not rendered by bookworm's systemd 252, so the lab does not use it.
 * Nothing of this is written to the disk: the network stays the lab's, as a container's namespace is.
 */
export function vmNetworkCommandLine(net: VmNet): string[] {
  return ["net.ifnames=0", `ip=${net.ip}::${net.gateway}:${netmask(net.prefixLength)}::${ETH}:off`];
}

/** A stable MAC per instance (qemu's local prefix 52:54:00): the same across reboots and restarts. */
export function vmMac(instanceId: string): string {
  const h = createHash("sha256").update(instanceId).digest();
  return ["52", "54", "00", ...[h[0], h[1], h[2]].map((b) => b.toString(16).padStart(2, "0"))].join(":");
}
