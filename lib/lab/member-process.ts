import { spawn } from "node:child_process";
import { appendFileSync, closeSync, openSync } from "node:fs";
import { join } from "node:path";
import { hostPath, shQuote } from "./command";
import { resolveGroup, resolveUser } from "./host-users";
import { identify, ProcessIdentity } from "./process-identity";
import { LabMember } from "./stack";

export interface MemberLaunch {
  readonly member: LabMember;
  readonly netns: string;
  /** The member's root: its written files and data directory. */
  readonly root: string;
  /** Host directories to replace by the root's copy (see memberMountDirs). */
  readonly mountDirs: string[];
  readonly logPath: string;
  /** The host's etcd, standing in for the unit's ExecStart binary (the lab downloads no release). */
  readonly etcdPath: string;
}

/**
 * The command that runs a member as its systemd unit would, in the member's network namespace:
 * a private mount namespace gets the member's directories bind-mounted over the host's, then
 * setpriv drops to the unit's User=/Group= and execs etcd with the EnvironmentFile as its whole
 * environment (plus PATH). Each step execs the next, so the spawned pid ends up being etcd's.
 */
export function memberCommand(launch: MemberLaunch): { argv: string[]; env: Record<string, string> } {
  const { member } = launch;
  const user = resolveUser(member.unit.user);
  const gid = member.unit.group === undefined ? user.gid : resolveGroup(member.unit.group);
  const script = [
    "set -e",
    // -n: no /run/mount/utab bookkeeping on the host.
    ...launch.mountDirs.map((dir) => `mount -n --bind ${shQuote(join(launch.root, dir))} ${shQuote(dir)}`),
    "umask 022", // systemd's default UMask=
    // sh exports PWD; systemd passes nothing but the unit's environment.
    [
      "exec",
      ...("PWD" in member.conf ? [] : ["env", "-u", "PWD"]),
      "setpriv",
      `--reuid=${user.uid}`,
      `--regid=${gid}`,
      "--init-groups",
      "--",
      ...[launch.etcdPath, ...member.unit.execStart.slice(1)].map(shQuote),
    ].join(" "),
  ].join("\n");
  return {
    argv: ["ip", "netns", "exec", launch.netns, "unshare", "--mount", "--propagation", "private", "sh", "-c", script],
    env: { PATH: hostPath(), ...member.conf },
  };
}

/** Starts the member detached (it outlives this process until labDown), logging to its log file. */
export function startMember(launch: MemberLaunch): ProcessIdentity {
  const { argv, env } = memberCommand(launch);
  appendFileSync(launch.logPath, `--- ${new Date().toISOString()} lab: starting ${launch.member.name}\n`);
  const log = openSync(launch.logPath, "a");
  try {
    // cwd "/": systemd's default WorkingDirectory for system services.
    const child = spawn(argv[0], argv.slice(1), { cwd: "/", env, detached: true, stdio: ["ignore", log, log] });
    child.unref();
    if (child.pid === undefined) throw new Error(`cannot start ${launch.member.name}: ${argv[0]} did not spawn`);
    return identify(child.pid);
  } finally {
    closeSync(log);
  }
}
