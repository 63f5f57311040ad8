import { createHash } from "node:crypto";
import { parseCloudConfig } from "../host/cloud-config";
import { ETCD_PATHS } from "../host/member-user-data";
import { unescapeTemplate } from "../terraform-string";
import { resolveReferences, stateResources, type ShownState } from "./terraform-state";

/** A member's VM as Terraform launched it, against what the configuration now asks for. */
export interface MemberLaunch {
  readonly member: string;
  /** The instance's address, for `terraform apply -replace`. */
  readonly address: string;
  /** Whether Terraform's state has the VM at all. */
  readonly launched: boolean;
  /** What differs; empty when the VM is as the configuration says. */
  readonly changes: readonly string[];
  /**
   * Whether a new VM would start on the member's data: both the VM that runs and the one the
   * configuration launches keep etcd's data on the member's data volume. Undefined: cannot tell
   * (the state keeps the user data's hash only).
   */
  readonly keepsData?: boolean;
}

interface ConfigInstance {
  readonly ami?: string;
  readonly instance_type?: string;
  readonly user_data?: string;
  readonly count?: number;
  readonly tags?: Record<string, string>;
}

/**
 * Which members' VMs differ from the synthesized configuration in what a VM is launched with: its
 * AMI, instance type and user data, which the instances ignore on a plain apply so that no deploy
 * replaces (or stops) every member at once. References in them are resolved from the state, as
 * Terraform would resolve them for a new VM.
 */
export function launchDrift(config: { resource?: Record<string, Record<string, unknown>> }, state: ShownState): MemberLaunch[] {
  const byAddress = new Map(stateResources(state).map((r) => [r.address, r.values]));
  const instances = Object.entries((config.resource?.aws_instance ?? {}) as Record<string, ConfigInstance>);
  return instances
    .filter(([, i]) => i.tags?.["etcd:member"] !== undefined && i.count !== 0)
    .map(([name, wanted]) => {
      const member = wanted.tags!["etcd:member"];
      const address = `aws_instance.${name}${wanted.count === undefined ? "" : "[0]"}`;
      const actual = byAddress.get(address);
      if (!actual) return { member, address, launched: false, changes: ["no VM yet"] };
      const changes: string[] = [];
      const ami = resolveReferences(wanted.ami ?? "", state);
      if (ami === undefined) changes.push(`AMI ${wanted.ami} is not known yet`);
      else if (ami !== actual.ami) changes.push(`AMI ${actual.ami} -> ${ami}`);
      const type = resolveReferences(wanted.instance_type ?? "", state);
      if (type !== actual.instance_type) changes.push(`instance type ${actual.instance_type} -> ${type ?? wanted.instance_type}`);
      const userData = resolveReferences(wanted.user_data ?? "", state);
      if (userData === undefined) changes.push("user data refers to something not in the state yet");
      else if (!sameUserData(userData, actual.user_data))
        changes.push(`user data: ${changedFiles(String(actual.user_data ?? ""), userData)}`);
      const onVolume = (text: string) => hasDataVolume(text);
      const running =
        typeof actual.user_data === "string" && !/^[0-9a-f]{40}$/.test(actual.user_data) ? onVolume(actual.user_data) : undefined;
      // The configured user data's own text says whether it mounts a volume, references unresolved or not.
      const keepsData = running === undefined ? undefined : running && onVolume(unescapeTemplate(wanted.user_data ?? ""));
      return { member, address, launched: true, changes, keepsData };
    });
}

/** Whether the user data mounts a data volume at etcd's data directory (its settings file is the sign). */
function hasDataVolume(userData: string): boolean {
  try {
    return (parseCloudConfig(userData).writeFiles ?? []).some((f) => f.path === ETCD_PATHS.dataVolumeSettings);
  } catch {
    return false;
  }
}

// Provider v6 keeps user data in state as given; earlier versions kept its SHA-1.
function sameUserData(wanted: string, inState: unknown): boolean {
  if (typeof inState !== "string") return false;
  if (/^[0-9a-f]{40}$/.test(inState)) return createHash("sha1").update(wanted).digest("hex") === inState;
  return wanted === inState;
}

/** The cloud-config files that differ, by path: what an operator wants to see before a roll. */
function changedFiles(before: string, after: string): string {
  try {
    const files = (text: string) => new Map((parseCloudConfig(text).writeFiles ?? []).map((f) => [f.path, f.content]));
    const [a, b] = [files(before), files(after)];
    const paths = [...new Set([...a.keys(), ...b.keys()])].filter((p) => a.get(p) !== b.get(p));
    return paths.length > 0 ? paths.join(", ") : "changed";
  } catch {
    return "changed";
  }
}
