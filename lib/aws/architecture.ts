import type { EtcdArch } from "../etcd/releases";

// Graviton families carry a "g" after the generation digit (t4g, m7g, c6gn, r8gd, im4gn) or are a1.
const GRAVITON = /^(a1|[a-z]+\d+g[a-z]*)\./;

/** The CPU architecture of an instance type, which picks the etcd build and the AMI. */
export function architectureOf(instanceType: string): EtcdArch {
  return GRAVITON.test(instanceType) ? "arm64" : "amd64";
}
