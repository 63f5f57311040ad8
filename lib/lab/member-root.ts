import { chmodSync, chownSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, posix } from "node:path";
import { resolveGroup, resolveOwner, resolveUser } from "./host-users";
import { LabMember } from "./stack";

/**
 * Directories that, by the filesystem hierarchy's conventions, hold one package's files
 * one level below: /etc/<pkg>, /var/lib/<pkg>, ...
 */
const PACKAGE_BASES = ["/etc", "/var/lib", "/var/log", "/var/cache", "/opt", "/srv", "/run", "/usr/local/etc", "/usr/local/share"];

/**
 * Host directories each member needs its own copy of: the package directory (/etc/etcd, /var/lib/etcd)
 * of every written or fetched file its EnvironmentFile names, and of its data and WAL directories.
 * The member's process sees its root's copy bind-mounted over each, in a private mount namespace.
 */
export function memberMountDirs(member: LabMember): string[] {
  const written = new Set(member.files.map((f) => f.path));
  const dirs = [
    // A key file the boot script fetches (not written by the user data) is named here too.
    ...Object.entries(member.conf)
      .filter(([setting, v]) => written.has(v) || (/_KEY_FILE$/.test(setting) && posix.isAbsolute(v)))
      .map(([, file]) => packageDir(file, false)),
    ...dataDirs(member).map((dir) => packageDir(dir, true)),
  ];
  // A directory inside another is covered by the other's mount.
  return [...new Set(dirs)].sort().filter((d, _, all) => !all.some((o) => d.startsWith(o + "/")));
}

function dataDirs(member: LabMember): string[] {
  const dataDir = member.conf.ETCD_DATA_DIR;
  if (!dataDir || !posix.isAbsolute(dataDir)) {
    throw new Error(`${member.name}: ETCD_DATA_DIR must be an absolute path (got "${dataDir ?? ""}")`);
  }
  const wal = member.conf.ETCD_WAL_DIR;
  return wal ? [dataDir, wal] : [dataDir];
}

function packageDir(path: string, isDir: boolean): string {
  const base = PACKAGE_BASES.filter((b) => path.startsWith(b + "/")).sort((a, b) => b.length - a.length)[0];
  const dir = base ? join(base, path.slice(base.length + 1).split("/")[0]) : isDir ? path : dirname(path);
  if (dir === path && !isDir) throw new Error(`cannot give ${path} a private directory: it lies directly in ${base}`);
  if (dir.split("/").length < 3) throw new Error(`cannot give ${path} a private directory: ${dir} is too broad to hide`);
  return dir;
}

/**
 * Writes the member's write_files under `root` as cloud-init would on the VM (deferred files last),
 * then creates its data directory's parent owned by the unit's user, mode 0700, as the boot script does.
 */
export function prepareMemberRoot(member: LabMember, root: string): void {
  const ordered = [...member.files.filter((f) => !f.defer), ...member.files.filter((f) => f.defer)];
  for (const file of ordered) {
    const target = join(root, file.path);
    mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
    writeFileSync(target, file.content);
    chmodSync(target, file.mode);
    const { uid, gid } = resolveOwner(file.owner);
    chownSync(target, uid, gid);
  }

  const user = resolveUser(member.unit.user);
  const gid = member.unit.group === undefined ? user.gid : resolveGroup(member.unit.group);
  for (const dir of dataDirs(member)) {
    // From the package directory (the mount source) down to the data dir's parent; etcd creates the rest.
    const top = packageDir(dir, true);
    mkdirSync(join(root, dirname(top)), { recursive: true, mode: 0o755 });
    const below = (dir === top ? "" : dirname(dir).slice(top.length)).split("/").filter(Boolean);
    for (let depth = 0; depth <= below.length; depth++) {
      const d = join(root, top, ...below.slice(0, depth));
      mkdirSync(d, { recursive: true, mode: 0o700 });
      chmodSync(d, 0o700);
      chownSync(d, user.uid, gid);
    }
  }
}
