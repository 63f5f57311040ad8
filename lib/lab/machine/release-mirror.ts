import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
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
 * The `install` props a stack needs for the lab: an etcd release from the lab's mirror, with its
 * real SHA-256, so the boot script's download, check and unpack run as on EC2. Without a version:
 * the host's etcd (Debian's 3.4); with one, any release the lab serves (see labReleases).
 */
export function labEtcdInstall(version?: string): { version: string; sha256: string; mirrorUrl: string } {
  const releases = labReleases();
  const release = version === undefined ? releases[0] : releases.find((r) => r.version === version);
  if (!release) {
    throw new Error(
      `etcd ${version} is not in the lab's mirror, which serves ${releases.map((r) => r.version).join(", ")}: ` +
        "Debian's etcd, and each build unpacked in .ci/etcd-<version>/usr/bin (sh scripts/fetch-etcd.sh makes 3.5's)"
    );
  }
  return { version: release.version, sha256: release.sha256, mirrorUrl: LAB_MIRROR_URL };
}

/**
 * Every release the lab serves, the host's first: Debian's etcd (bookworm: 3.4), then each build
 * unpacked under the package's .ci/etcd-<version>/usr/bin (3.5 from Debian's sid pool, by
 * scripts/fetch-etcd.sh), so that a stack can ask for either and a roll can upgrade one to the other.
 */
export function labReleases(cacheDir = RELEASE_CACHE): LabRelease[] {
  const extra = unpackedBuilds().map((bin) =>
    buildRelease({ etcd: join(bin, "etcd"), etcdctl: join(bin, "etcdctl"), etcdutl: join(bin, "etcdutl") }, cacheDir)
  );
  const host = hostEtcdRelease(cacheDir);
  return [host, ...extra.filter((r) => r.version !== host.version)];
}

/** The usr/bin of each .ci/etcd-<version> of the package this file is in that holds etcd, etcdctl and etcdutl. */
function unpackedBuilds(): string[] {
  let dir = __dirname;
  while (!existsSync(join(dir, "package.json")) && dirname(dir) !== dir) dir = dirname(dir);
  const ci = join(dir, ".ci");
  if (!existsSync(ci)) return [];
  return readdirSync(ci)
    .filter((name) => /^etcd-\d+\.\d+\.\d+$/.test(name))
    .sort()
    .map((name) => join(ci, name, "usr", "bin"))
    .filter((bin) => ["etcd", "etcdctl", "etcdutl"].every((tool) => existsSync(join(bin, tool))));
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
      const tar = [
        "tar",
        "--sort=name",
        "--mtime=@0",
        "--owner=0",
        "--group=0",
        "--numeric-owner",
        "-C",
        join(work, "tree"),
        "-cf",
        "-",
        base,
      ];
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
