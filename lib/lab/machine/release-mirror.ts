import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { runSync, which } from "../command";

/**
 * An etcd release in the official download layout (`<version>/etcd-<version>-linux-amd64.tar.gz`,
 * unpacking to `etcd-<version>-linux-amd64/{etcd,etcdctl}`), made from Debian's etcd binaries: no
 * release can be downloaded here, and the boot script's download, SHA-256 check and unpack must
 * run for real. The tarball is byte-for-byte reproducible from the same binaries, so its SHA-256
 * can be synthesized into a stack before the lab serves it.
 */
export interface LabRelease {
  /** e.g. "v3.4.23", as `install.version` takes it. */
  readonly version: string;
  readonly sha256: string;
  /** The directory served as the mirror's root. */
  readonly mirrorDir: string;
  readonly tarball: string;
}

/** Where machines reach the mirror: the lab's AWS endpoint, at the instance-metadata address. */
export const LAB_MIRROR_URL = "http://169.254.169.254/etcd-releases";

/**
 * The `install` props a stack needs for the lab: the host's etcd as a release from the lab's
 * mirror, with its real SHA-256, so the boot script's download, check and unpack run as on EC2.
 */
export function labEtcdInstall(): { version: string; sha256: string; mirrorUrl: string } {
  const release = hostEtcdRelease();
  return { version: release.version, sha256: release.sha256, mirrorUrl: LAB_MIRROR_URL };
}

export const RELEASE_CACHE = "/var/cache/etcd-lab/releases";

/** The release built from the host's etcd and etcdctl (Debian's etcd-server and etcd-client). */
export function hostEtcdRelease(cacheDir = RELEASE_CACHE): LabRelease {
  const etcd = which("etcd");
  const etcdctl = which("etcdctl");
  if (!etcd || !etcdctl) throw new Error("the lab's release mirror is built from Debian's etcd: apt-get install etcd-server etcd-client");
  return buildRelease({ etcd, etcdctl }, cacheDir);
}

/** The release holding these binaries; built once per binary content, then reused. */
export function buildRelease(binaries: { etcd: string; etcdctl: string; etcdutl?: string }, cacheDir = RELEASE_CACHE): LabRelease {
  const version = `v${etcdVersion(binaries.etcd)}`;
  const files = Object.entries(binaries).filter((e): e is [string, string] => e[1] !== undefined);
  const content = createHash("sha256");
  for (const [name, path] of files) content.update(name).update(readFileSync(path));
  // Keyed by the binaries: a Debian update of etcd makes a new release beside the old one.
  const mirrorDir = join(cacheDir, content.digest("hex").slice(0, 16));
  const base = `etcd-${version}-linux-amd64`;
  const tarball = join(mirrorDir, version, `${base}.tar.gz`);
  if (!existsSync(tarball)) {
    const work = `${mirrorDir}.building-${process.pid}`;
    rmSync(work, { recursive: true, force: true });
    mkdirSync(join(work, "tree", base), { recursive: true });
    mkdirSync(join(work, "mirror", version), { recursive: true });
    try {
      for (const [name, path] of files) {
        copyFileSync(path, join(work, "tree", base, name));
        chmodSync(join(work, "tree", base, name), 0o755);
      }
      // Reproducible: sorted names, fixed times and owners, and gzip without a name or timestamp.
      const tar = ["tar", "--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "-C", join(work, "tree"), "-cf", "-", base];
      runSync(["sh", "-c", `${tar.join(" ")} | gzip -9n > ${join(work, "mirror", version, `${base}.tar.gz`)}`]);
      try {
        renameSync(join(work, "mirror"), mirrorDir);
      } catch (e) {
        if (!existsSync(tarball)) throw e;
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
  const sha256 = createHash("sha256").update(readFileSync(tarball)).digest("hex");
  return { version, sha256, mirrorDir, tarball };
}

function etcdVersion(etcd: string): string {
  const out = runSync([etcd, "--version"]);
  const version = /^etcd Version: (\d+\.\d+\.\d+)$/m.exec(out)?.[1];
  if (!version) throw new Error(`${etcd} --version printed no "etcd Version: X.Y.Z": ${out.trim()}`);
  return version;
}
