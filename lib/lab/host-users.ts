import { spawnSync } from "node:child_process";
import { hostPath } from "./command";

export interface HostUser {
  readonly name: string;
  readonly uid: number;
  /** Primary group. */
  readonly gid: number;
}

function getent(database: "passwd" | "group", key: string): string[] | undefined {
  const r = spawnSync("getent", [database, key], { encoding: "utf8", env: { PATH: hostPath() } });
  return r.status === 0 ? r.stdout.trim().split("\n")[0].split(":") : undefined;
}

/**
 * A user of this host. On a VM the cloud-config's `users` would create it; the lab uses the host's
 * (Debian's etcd-server package creates `etcd`).
 */
export function resolveUser(name: string): HostUser {
  const entry = getent("passwd", name);
  if (!entry) throw new Error(`user "${name}" does not exist on this host`);
  return { name: entry[0], uid: Number(entry[2]), gid: Number(entry[3]) };
}

export function resolveGroup(name: string): number {
  const entry = getent("group", name);
  if (!entry) throw new Error(`group "${name}" does not exist on this host`);
  return Number(entry[2]);
}

/** A cloud-init `owner` ("user:group" or "user", whose group stays root's as cloud-init leaves it). */
export function resolveOwner(owner: string): { uid: number; gid: number } {
  const [user, group] = owner.split(":", 2);
  return { uid: resolveUser(user).uid, gid: group === undefined ? 0 : resolveGroup(group) };
}
