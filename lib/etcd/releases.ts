import type { EtcdInstallOptions } from "../props";

export type EtcdArch = "amd64" | "arm64";

/**
 * SHA-256 of `etcd-<version>-linux-<arch>.tar.gz` as published in each release's SHA256SUMS.
 * v3.5.33 arm64 is left out: no published copy of its checksum could be checked. Pass `sha256` for it.
 */
export const ETCD_RELEASES: Readonly<Record<string, Partial<Record<EtcdArch, string>>>> = {
  "v3.6.14": {
    amd64: "ffe840ff9295808e88cce2794a18a5ac87f12a5203c8314d0bf6aa119b41bac5",
    arm64: "fa1b80565ee6fc2df1ae6f57a508b221f3ecc7d591c317c581cd8281b0842b3e",
  },
  "v3.5.33": {
    amd64: "5025b5b24d81a9616b6e284ccd439b9a3df055ef8fdcdc142af3ec8f6a3b3c95",
  },
};

export const DEFAULT_ETCD_VERSION = "v3.6.14";
export const DEFAULT_MIRROR_URL = "https://github.com/etcd-io/etcd/releases/download";
const DEFAULT_PACKAGE = "etcd";

export type InstallPlan =
  | {
      readonly source: "release";
      readonly version: string;
      readonly arch: EtcdArch;
      readonly sha256: string;
      readonly url: string;
      readonly binDir: "/usr/local/bin";
    }
  | { readonly source: "package"; readonly packageName: string; readonly binDir: "/usr/bin" };

const VERSION = /^v3\.(4|5|6)\.\d+$/;
const SHA256 = /^[0-9a-f]{64}$/i;
// Goes into a shell script and a URL: no whitespace, quotes or shell specials.
const HTTP_URL = /^https?:\/\/[^\s'"\\$`]+$/;
// Debian and RPM package names; nothing a shell or package manager would read as an option.
const PACKAGE_NAME = /^[A-Za-z0-9][A-Za-z0-9+._-]*$/;
const RELEASE_ONLY = ["version", "sha256", "mirrorUrl"] as const;

/** How etcd gets onto a member, or what is wrong with `install` (each message names field, value and fix). */
export function resolveInstallPlan(options: EtcdInstallOptions | undefined, arch: EtcdArch): { plan?: InstallPlan; errors: string[] } {
  const source = options?.source ?? "release";
  if (source === "package") return resolvePackage(options ?? {});
  if (source !== "release") {
    return { errors: [`install.source is ${JSON.stringify(source)} but must be "release" or "package": pick one of those`] };
  }
  return resolveRelease(options ?? {}, arch);
}

function resolveRelease(options: EtcdInstallOptions, arch: EtcdArch): { plan?: InstallPlan; errors: string[] } {
  const errors: string[] = [];
  const version = options.version ?? DEFAULT_ETCD_VERSION;
  const given = options.sha256?.toLowerCase();
  const mirror = (options.mirrorUrl ?? DEFAULT_MIRROR_URL).replace(/\/+$/, "");

  if (arch !== "amd64" && arch !== "arm64") {
    errors.push(
      `the instance architecture is ${JSON.stringify(
        arch
      )} but etcd releases are only resolved for "amd64" and "arm64": use an x86_64 or Graviton instance type`
    );
  }
  if (!VERSION.test(version)) {
    errors.push(
      `install.version is ${JSON.stringify(version)} but must look like "v3.6.14" (a v3.4, v3.5 or v3.6 release): fix the version`
    );
  }
  if (options.packageName !== undefined) {
    errors.push(
      `install.packageName is ${JSON.stringify(
        options.packageName
      )} but only applies to install.source "package": remove it or set source to "package"`
    );
  }
  if (given !== undefined && !SHA256.test(given)) {
    errors.push(
      `install.sha256 is ${JSON.stringify(options.sha256)} but must be 64 hexadecimal characters: copy it from the release's SHA256SUMS`
    );
  }
  if (!HTTP_URL.test(mirror) || !URL.canParse(mirror)) {
    errors.push(
      `install.mirrorUrl is ${JSON.stringify(
        options.mirrorUrl
      )} but must be an http(s) URL without spaces or quotes, e.g. "${DEFAULT_MIRROR_URL}": fix the URL`
    );
  }

  const pinned = ETCD_RELEASES[version]?.[arch];
  if (pinned && given && SHA256.test(given) && given !== pinned) {
    errors.push(
      `install.sha256 is ${JSON.stringify(
        options.sha256
      )} but this library pins ${pinned} for etcd ${version} ${arch}: remove install.sha256 or check where it came from`
    );
  }
  if (!pinned && given === undefined && VERSION.test(version)) {
    const pins = Object.keys(ETCD_RELEASES).filter((v) => ETCD_RELEASES[v][arch]);
    errors.push(
      `install.version is ${JSON.stringify(version)} but this library pins no SHA-256 for etcd ${version} ${arch}: ` +
        `set install.sha256 to the checksum of etcd-${version}-linux-${arch}.tar.gz from the release's SHA256SUMS, or use a pinned version (${pins.join(
          ", "
        )})`
    );
  }
  if (errors.length > 0) return { errors };

  return {
    plan: {
      source: "release",
      version,
      arch,
      sha256: (pinned ?? given) as string,
      url: `${mirror}/${version}/etcd-${version}-linux-${arch}.tar.gz`,
      binDir: "/usr/local/bin",
    },
    errors,
  };
}

function resolvePackage(options: EtcdInstallOptions): { plan?: InstallPlan; errors: string[] } {
  const errors = RELEASE_ONLY.filter((key) => options[key] !== undefined).map(
    (key) =>
      `install.${key} is ${JSON.stringify(options[key])} but only applies to install.source "release": remove it or set source to "release"`
  );
  const packageName = options.packageName ?? DEFAULT_PACKAGE;
  if (!PACKAGE_NAME.test(packageName)) {
    errors.push(
      `install.packageName is ${JSON.stringify(
        packageName
      )} but must be a plain package name (letters, digits, + . _ -, starting with a letter or digit), e.g. "etcd" or "etcd-server": fix the name`
    );
  }
  if (errors.length > 0) return { errors };
  return { plan: { source: "package", packageName, binDir: "/usr/bin" }, errors };
}
