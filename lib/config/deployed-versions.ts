import { existsSync, readFileSync } from "node:fs";
import { installedVersion } from "../host/member-user-data";

/**
 * The etcd release each member of a cluster was launched with, as a local Terraform state file
 * records it (the user data provider v6 keeps): empty when there is no such file (a first deploy,
 * or a remote backend, where `etcd-cluster roll` checks the running versions instead), or the
 * state holds only hashes.
 */
export function deployedVersions(stateFile: string, clusterToken: string): Map<string, string> {
  const found = new Map<string, string>();
  if (!existsSync(stateFile)) return found;
  let state: { resources?: { type: string; instances?: { attributes?: Record<string, unknown> }[] }[] };
  try {
    state = JSON.parse(readFileSync(stateFile, "utf8"));
  } catch {
    return found;
  }
  for (const resource of state.resources ?? []) {
    if (resource.type !== "aws_instance") continue;
    for (const { attributes } of resource.instances ?? []) {
      const tags = (attributes?.tags ?? {}) as Record<string, string>;
      const version = typeof attributes?.user_data === "string" ? installedVersion(attributes.user_data) : undefined;
      if (tags["etcd:cluster"] === clusterToken && tags["etcd:member"] && version) found.set(tags["etcd:member"], version);
    }
  }
  return found;
}
