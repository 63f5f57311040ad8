import { createHash } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { runStreaming, which } from "../command";
import { AWS_CLI_WRAPPER } from "./aws-cli";
import { SSM_AGENT_STANDIN, SSM_AGENT_UNIT } from "./ssm-agent";

/**
 * The root filesystem every lab machine boots: Debian bookworm as debootstrap makes it, with
 * systemd as PID 1, cloud-init, and the tools the boot script and the backup command run (curl,
 * tar, sha256sum, the AWS CLI). It holds no etcd: the member's user data installs that, as on EC2.
 */
export interface MachineImage {
  /** The read-only rootfs directory (machines boot overlays of it). */
  readonly rootfs: string;
  /** Content hash of the recipe: a new recipe builds a new image beside the old one. */
  readonly id: string;
}

/** The recipe both machine kinds share (the full-VM image, vm-image.ts, adds a kernel to it). */
export const SUITE = "bookworm";
export const MIRROR = "http://deb.debian.org/debian";
export const PACKAGES: readonly string[] = [
  "systemd",
  "systemd-sysv",
  "dbus",
  "cloud-init",
  // debootstrap does not resolve virtual packages: python3-cryptography (cloud-init's) needs
  // python3-cffi-backend-api-*, which only this package provides.
  "python3-cffi-backend",
  "curl",
  "ca-certificates",
  "iproute2",
  "tar",
  "gzip",
  "procps",
  // cloud-init's locale module runs update-locale, and its ssh modules make host keys and set
  // sshd's password policy: present, as on Debian's cloud images (the lab never logs in).
  "locales",
  "openssh-server",
  // Debian's AWS CLI (2.9): what members run, as on EC2; /usr/local/bin/aws points it at the lab.
  "awscli",
];

export interface ImageFile {
  readonly content: string;
  readonly mode: number;
  /** A symbolic link to this target instead of a file (content and mode are then unused). */
  readonly symlink?: string;
}

/** Files the lab adds to the image: what makes cloud-init and the AWS CLI find the lab, not AWS. */
export const IMAGE_FILES: Readonly<Record<string, ImageFile>> = {
  // NoCloud only: no probing for EC2's datasource. The network is configured from outside the
  // machine (its namespace on the lab bridge), so cloud-init must not render a DHCP config.
  "/etc/cloud/cloud.cfg.d/90-etcd-lab.cfg": {
    content: [
      "# The etcd lab: user data comes from the NoCloud seed; the lab configures the network.",
      "datasource_list: [ NoCloud ]",
      "network: {config: disabled}",
      "",
    ].join("\n"),
    mode: 0o644,
  },
  // cloud-init's default locale, en_US.UTF-8, is generated on first boot by Debian's locale-gen,
  // which builds what this file lists (as on Debian's cloud images).
  "/etc/locale.gen": { content: "en_US.UTF-8 UTF-8\n", mode: 0o644 },
  "/usr/local/bin/aws": { content: AWS_CLI_WRAPPER, mode: 0o755 },
  // Amazon Linux runs amazon-ssm-agent from boot: the lab's stand-in does the same.
  "/usr/local/sbin/lab-ssm-agent": { content: SSM_AGENT_STANDIN, mode: 0o755 },
  "/etc/systemd/system/lab-ssm-agent.service": { content: SSM_AGENT_UNIT, mode: 0o644 },
  "/etc/systemd/system/multi-user.target.wants/lab-ssm-agent.service": { content: "", mode: 0o644, symlink: "../lab-ssm-agent.service" },
  // An empty machine-id: systemd makes one on first boot, so each machine has its own.
  "/etc/machine-id": { content: "", mode: 0o444 },
  // A container has no consoles to run gettys on, and nothing to log in to.
  "/etc/systemd/system/console-getty.service": { content: "", mode: 0o644 },
};

export const IMAGE_CACHE = "/var/cache/etcd-lab/images";

/** The recipe's hash: the same recipe reuses the cached image. */
export function imageId(): string {
  const recipe = JSON.stringify({ SUITE, MIRROR, PACKAGES, IMAGE_FILES });
  return createHash("sha256").update(recipe).digest("hex").slice(0, 16);
}

/**
 * The cached image, built first if this recipe has none yet (debootstrap from Debian's mirror:
 * about a minute and a half, 280 MB). Safe against a concurrent build: it builds beside the cache
 * and renames into place.
 */
export async function ensureMachineImage(options: { log?: (line: string) => void; cacheDir?: string } = {}): Promise<MachineImage> {
  const log = options.log ?? ((line: string) => void process.stderr.write(line + "\n"));
  const id = imageId();
  const dir = join(options.cacheDir ?? IMAGE_CACHE, id);
  const rootfs = join(dir, "rootfs");
  if (existsSync(join(dir, "complete"))) return { rootfs, id };

  for (const [tool, pkg] of [
    ["debootstrap", "debootstrap"],
    ["systemd-nspawn", "systemd-container"],
  ]) {
    if (!which(tool)) throw new Error(`the lab's machines need ${tool}: apt-get install ${pkg}`);
  }
  const t = Date.now();
  log(`[lab image] building ${id} with debootstrap ${SUITE} (once; about 90 s)`);
  await buildOnce(dir, async (building) => {
    const root = join(building, "rootfs");
    await debootstrap(root, PACKAGES, log);
    writeImageFiles(root, IMAGE_FILES);
  });
  log(`[lab image] ${id} built in ${((Date.now() - t) / 1000).toFixed(0)} s: ${rootfs}`);
  return { rootfs, id };
}

/**
 * Builds into a directory beside `dir` and renames it into place, marked complete: safe against a
 * concurrent build of the same image, and a failed build leaves nothing behind.
 */
export async function buildOnce(dir: string, build: (building: string) => Promise<void>): Promise<void> {
  const building = `${dir}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  mkdirSync(building, { recursive: true });
  try {
    await build(building);
    closeSync(openSync(join(building, "complete"), "w"));
    try {
      renameSync(building, dir);
    } catch (e) {
      // Another process finished the same image first: use that one.
      if (!existsSync(join(dir, "complete"))) throw e;
      rmSync(building, { recursive: true, force: true });
    }
  } catch (e) {
    rmSync(building, { recursive: true, force: true });
    throw e;
  }
}

/** debootstrap of the recipe's suite into `rootfs`, without the package cache it leaves. */
export async function debootstrap(rootfs: string, packages: readonly string[], log: (line: string) => void): Promise<void> {
  const r = await runStreaming(["debootstrap", "--variant=minbase", `--include=${packages.join(",")}`, SUITE, rootfs, MIRROR], {
    timeoutMs: 900_000,
    onLine: (line) => /^I: /.test(line) || log(`[lab image] ${line}`),
  });
  if (r.code !== 0) throw new Error(`debootstrap exited with ${r.code}; its output ends:\n${r.stdout.split("\n").slice(-15).join("\n")}`);
  // debootstrap leaves its package cache: 60 MB no machine needs.
  rmSync(join(rootfs, "var/cache/apt/archives"), { recursive: true, force: true });
}

export function writeImageFiles(rootfs: string, files: Readonly<Record<string, ImageFile>>): void {
  for (const [path, file] of Object.entries(files)) {
    const target = join(rootfs, path);
    mkdirSync(dirname(target), { recursive: true });
    if (file.symlink !== undefined) symlinkSync(file.symlink, target);
    else writeFileSync(target, file.content, { mode: file.mode });
  }
}
