import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { LabMachine, MachineKind } from "./machine/driver";
import type { MachineImage } from "./machine/image";
import type { VmAccelerator } from "./machine/vm";
import type { VmImage } from "./machine/vm-image";
import type { LabRelease } from "./machine/release-mirror";
import { LabNetwork } from "./network";
import { ProcessIdentity } from "./process-identity";
import { LabMember } from "./stack";
import type { LabAttachment, LabVolume } from "./volumes";

/**
 * Everything a lab created, recorded before it is created, so that labDown can undo exactly that,
 * also from another process after a crash.
 */
export interface LabState {
  readonly name: string;
  /** Per-member roots and logs. */
  readonly stateDir: string;
  /** Directories the lab created (removed recursively, last first). */
  readonly createdPaths: string[];
  /** Network namespaces the lab created (or was about to). */
  readonly namespaces: string[];
  /** Each running member's machine (its systemd-nspawn process), by member name. */
  readonly processes: Record<string, ProcessIdentity>;
  /** Each member's machine while its instance exists, running or stopped. */
  readonly machines: Record<string, LabMachine>;
  /** Containers or full VMs: fixed when the lab is made. */
  readonly machineKind: MachineKind;
  /** The image every container boots (a cache outside the lab: it survives labDown). */
  readonly image: MachineImage;
  /** What VMs boot, and under which accelerator (only for machineKind "vm"). */
  readonly vmImage?: VmImage;
  readonly accelerator?: VmAccelerator;
  /** The etcd release the AWS endpoint serves as the mirror (also a cache): the host's. */
  readonly release: LabRelease;
  /** Every release the mirror serves, the host's first (absent in a state written before there were several). */
  readonly releases?: LabRelease[];
  /** The region instances report through instance metadata: the provider's. */
  region: string;
  /** The lab's AWS endpoint process (instance metadata, SSM, CloudWatch, S3, the release mirror). */
  awsEndpoint?: ProcessIdentity;
  /** ca.pem, admin.pem and admin-key.pem: the operator's etcdctl credentials. */
  readonly pkiDirectory: string;
  /** When the lab was made: tells it apart from an earlier lab of the same name. */
  readonly createdAt: string;
  /** The bridge and deployer, and an endpoint per member whose instance exists. */
  readonly network: LabNetwork;
  /** Each member whose instance exists, as it was launched (a later stack does not rewrite it). */
  readonly members: Record<string, LabMember>;
  /** Running instances: EC2 instance id to member name. (What Terraform created is in Terraform's own state.) */
  readonly instances: Record<string, string>;
  /** SSM parameters the stack stored: name to the 0600 file holding the value. */
  readonly parameters: Record<string, string>;
  /** EBS volumes the stack created, by volume id (absent in a state written before volumes). */
  readonly volumes?: Record<string, LabVolume>;
  /** Attached volumes, by volume id (a volume attaches to one instance at a time). */
  readonly attachments?: Record<string, LabAttachment>;
  /** The stack directory last applied. */
  stackDir?: string;
}

export function validateLabName(name: string): void {
  // It names /run/<name> and prefixes network namespace names.
  if (!/^[a-z][a-z0-9-]{0,31}$/.test(name)) {
    throw new Error(`lab name "${name}" must be 1-32 characters of a-z, 0-9 and "-", starting with a letter`);
  }
}

/** The lab's fixed home, found from its name alone: it holds state.json (and, by default, the state dir). */
export function labHome(name: string): string {
  return `/run/${name}`;
}

function statePath(name: string): string {
  return join(labHome(name), "state.json");
}

export function readLabState(name: string): LabState | undefined {
  const path = statePath(name);
  return existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as LabState) : undefined;
}

export function writeLabState(state: LabState): void {
  const path = statePath(state.name);
  // 0600: the members' write_files, private keys included, are in it.
  writeFileSync(`${path}.tmp`, JSON.stringify(state, null, 2), { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}
