import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmdirSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";
import { runSync } from "./command";

/**
 * Host directories that labs need but that may not exist on the host: bind-mount targets such as
 * /etc/etcd, and /run/netns (which `ip netns add` creates and turns into a mount point).
 *
 * Several labs may run at once (parallel test workers) and share them, so claims are counted in one
 * host-wide registry: the last lab to release a directory removes what the labs created, and a lab
 * never removes a directory another lab still mounts onto.
 */
const REGISTRY = "/run/etcd-lab-host-dirs.json";
const LOCK = "/run/etcd-lab-host-dirs.lock";

interface Claim {
  /** Directories the labs created for it, shallowest first. */
  created: string[];
  /** The labs made it a mount point (only /run/netns, via `ip netns add`). */
  unmount: boolean;
  labs: string[];
}
type Registry = Record<string, Claim>;

export interface HostDirRequest {
  readonly path: string;
  /** Something the lab runs (ip netns add) will mount onto it in the host's mount namespace. */
  readonly becomesMountpoint?: boolean;
}

/** Makes sure each directory exists and records that `lab` uses it. */
export function claimHostDirs(lab: string, requests: HostDirRequest[]): void {
  withRegistry((registry) => {
    for (const { path, becomesMountpoint } of requests) {
      const claim = registry[path];
      if (claim) {
        if (!claim.labs.includes(lab)) claim.labs.push(lab);
        continue;
      }
      const created = missingAncestors(path);
      for (const dir of created) mkdirSync(dir, { mode: 0o755 });
      registry[path] = { created, unmount: !!becomesMountpoint && !isMountpoint(path), labs: [lab] };
    }
  });
}

/**
 * Drops `lab`'s claims; directories nobody claims any more are unmounted and removed if the labs
 * made them so and they are empty. Returns what was removed and what had to be left.
 */
export function releaseHostDirs(lab: string): { removed: string[]; left: string[] } {
  const removed: string[] = [];
  const left: string[] = [];
  if (!existsSync(REGISTRY)) return { removed, left };
  withRegistry((registry) => {
    for (const [path, claim] of Object.entries(registry)) {
      claim.labs = claim.labs.filter((l) => l !== lab);
      if (claim.labs.length > 0) continue;
      delete registry[path];
      const empty = !existsSync(path) || readdirSync(path).length === 0;
      if (claim.unmount && empty && isMountpoint(path)) runSync(["umount", "-n", path]);
      for (const dir of [...claim.created].reverse()) {
        try {
          rmdirSync(dir);
          removed.push(dir);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== "ENOENT") left.push(dir);
        }
      }
    }
  });
  return { removed, left };
}

/** Labs holding a claim on `path` (for tests and diagnostics). */
export function hostDirClaims(path: string): string[] {
  return withRegistry((registry) => [...(registry[path]?.labs ?? [])]);
}

function missingAncestors(path: string): string[] {
  const missing: string[] = [];
  for (let dir = path; !existsSync(dir); dir = dirname(dir)) missing.unshift(dir);
  return missing;
}

function isMountpoint(path: string): boolean {
  // Field 5 of mountinfo is the mount point, with spaces and the like octal-escaped.
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .some((line) => line.split(" ")[4] !== undefined && unescape(line.split(" ")[4]) === path);
}

function withRegistry<T>(update: (registry: Registry) => T): T {
  lock();
  try {
    const registry: Registry = existsSync(REGISTRY) ? JSON.parse(readFileSync(REGISTRY, "utf8")) : {};
    const result = update(registry);
    if (Object.keys(registry).length === 0) {
      if (existsSync(REGISTRY)) unlinkSync(REGISTRY);
    } else {
      writeFileSync(`${REGISTRY}.tmp`, JSON.stringify(registry, null, 2));
      renameSync(`${REGISTRY}.tmp`, REGISTRY);
    }
    return result;
  } finally {
    unlinkSync(LOCK);
  }
}

/** An O_EXCL lock file holding the owner's pid, so a lock left by a crashed process can be broken. */
function lock(): void {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const fd = openSync(LOCK, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    let owner = NaN;
    try {
      owner = Number(readFileSync(LOCK, "utf8"));
    } catch {
      continue; // released meanwhile
    }
    if (owner > 0 && !existsSync(`/proc/${owner}`)) {
      unlinkSync(LOCK);
      continue;
    }
    if (Date.now() > deadline) throw new Error(`${LOCK} held by process ${owner} for 10 s`);
    // Holders keep the lock for milliseconds (no await inside), so a short synchronous pause is enough.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
  }
}
