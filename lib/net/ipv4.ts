// IPv4 arithmetic for synth-time checks of member addresses against their subnet.

export interface Ipv4Cidr {
  readonly network: number;
  readonly prefixLength: number;
  readonly text: string;
}

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

export function parseIpv4(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((p) => OCTET.test(p))) return undefined;
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

export function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join(".");
}

export function parseCidr(text: string): Ipv4Cidr | undefined {
  const match = /^([^/]+)\/(\d{1,2})$/.exec(text);
  if (!match) return undefined;
  const address = parseIpv4(match[1]);
  const prefixLength = Number(match[2]);
  if (address === undefined || prefixLength > 32) return undefined;
  const size = 2 ** (32 - prefixLength);
  // "172.16.0.5/24" names a host, not a network: refuse rather than silently round down.
  if (address % size !== 0) return undefined;
  return { network: address, prefixLength, text };
}

export function cidrSize(cidr: Ipv4Cidr): number {
  return 2 ** (32 - cidr.prefixLength);
}

export function cidrContains(cidr: Ipv4Cidr, address: number): boolean {
  return address >= cidr.network && address < cidr.network + cidrSize(cidr);
}

export function cidrWithin(inner: Ipv4Cidr, outer: Ipv4Cidr): boolean {
  return inner.prefixLength >= outer.prefixLength && cidrContains(outer, inner.network);
}

/**
 * AWS keeps five addresses of every subnet: the network address, .1 (VPC router), .2 (DNS),
 * .3 (reserved) and the broadcast address. An instance cannot be given any of them.
 */
export function awsReservedAddresses(cidr: Ipv4Cidr): number[] {
  const last = cidr.network + cidrSize(cidr) - 1;
  return [cidr.network, cidr.network + 1, cidr.network + 2, cidr.network + 3, last];
}
