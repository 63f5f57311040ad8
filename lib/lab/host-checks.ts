// What the lab needs of this host, checked before anything is created so that a refusal leaves
// nothing behind: root, the tools (each refusal names its Debian package), users, free names.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { which } from "./command";
import { LAB_MIRROR_URL } from "./machine/release-mirror";
import { existingNamespaces, LabNetwork, labNamespaces } from "./network";
import { clientUrl, LabMember, LabStack } from "./stack";
import { labHome, validateLabName } from "./state";

const DEBIAN_AWS_CLI = "/usr/bin/aws";

/** Host tools the lab runs, resolved once. */
export interface LabTools {
  readonly etcd: string;
  readonly etcdctl: string;
  /** The AWS CLI the deployer's membership steps run (SSM transport) against the lab's endpoint. */
  readonly aws: string;
}

export function preflight(name: string): LabTools {
  validateLabName(name);
  const tools = hostTools();
  if (existsSync(labHome(name))) throw alreadyRunning(name);
  return tools;
}

/** Root and the host tools the lab runs; a clear refusal naming the package when one is missing. */
export function hostTools(): LabTools {
  if (process.getuid?.() !== 0) {
    throw new Error("the etcd lab must run as root (it creates network namespaces and mounts, and boots machines with systemd-nspawn)");
  }
  const etcd = which("etcd");
  const etcdctl = which("etcdctl");
  if (!etcd || !etcdctl) {
    // etcd: the release the machines install is built from it; etcdctl: the operator's view.
    throw new Error(`etcd is not installed (no ${etcd ? "etcdctl" : "etcd"} on PATH): apt-get install etcd-server etcd-client`);
  }
  const tools = [
    ["ip", "iproute2"],
    ["ss", "iproute2"],
    ["nsenter", "util-linux"],
    ["mount", "mount"],
    ["systemd-nspawn", "systemd-container"],
  ];
  for (const [tool, pkg] of tools) {
    if (!which(tool)) throw new Error(`${tool} is not installed: apt-get install ${pkg}`);
  }
  // Debian's package first: a PATH may put another (a pyenv shim, an old v1) before it.
  const aws = existsSync(DEBIAN_AWS_CLI) ? DEBIAN_AWS_CLI : which("aws");
  if (!aws) throw new Error("the AWS CLI is not installed (the SSM transport's steps run it): apt-get install awscli");
  return { etcd, etcdctl, aws };
}

export function alreadyRunning(name: string): Error {
  return new Error(
    `lab "${name}" is already running (${labHome(name)}/state.json exists); ` + `run labDown("${name}") first, or give another labName`
  );
}

/** Everything that can be checked before anything is created, so a refusal leaves nothing behind. */
export function validateHost(name: string, stack: LabStack, network: LabNetwork, pki: string): void {
  for (const file of ["ca.pem", "admin.pem", "admin-key.pem"]) {
    if (!existsSync(join(pki, file))) throw new Error(`PKI directory ${pki} has no ${file}`);
  }
  const existing = existingNamespaces();
  const clash = labNamespaces(network).filter((ns) => existing.includes(ns));
  if (clash.length > 0) {
    throw new Error(`network namespaces ${clash.join(", ")} already exist but no lab "${name}" is recorded; delete them first`);
  }
  stack.members.forEach(validateMember);
}

/**
 * What the lab needs of a member's user data: the client URL the deployer reaches it at, and an
 * etcd its machine can install. The machines reach nothing beyond the lab: the release must come
 * from the lab's mirror (see labEtcdInstall), not the internet or a package repository.
 */
export function validateMember(m: LabMember): void {
  clientUrl(m);
  const script = m.files.map((f) => f.content).join("\n");
  const url = /^ETCD_URL='([^']*)'$/m.exec(script)?.[1];
  const fix = `synthesize with install: labEtcdInstall() (from cdktf-etcd-cluster's lab), or ETCD_LAB=1 for the examples`;
  if (url === undefined && /^ETCD_PACKAGE=/m.test(script)) {
    throw new Error(`${m.name} installs etcd from a package repository, which the lab's machines cannot reach: ${fix}`);
  }
  if (url !== undefined && !url.startsWith(`${LAB_MIRROR_URL}/`)) {
    throw new Error(`${m.name} downloads etcd from ${url}, which the lab's machines cannot reach: ${fix}`);
  }
}
