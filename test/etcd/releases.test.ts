import type { EtcdInstallOptions } from "../../lib/props";
import { DEFAULT_ETCD_VERSION, DEFAULT_MIRROR_URL, ETCD_RELEASES, type EtcdArch, resolveInstallPlan } from "../../lib/etcd/releases";

const SHA = "a".repeat(64);

describe("ETCD_RELEASES", () => {
  test("pins well-formed checksums, including the default version for both architectures", () => {
    // GIVEN the pinned table THEN every entry is a sha256 and the default version has both builds
    for (const sums of Object.values(ETCD_RELEASES)) {
      for (const sha of Object.values(sums)) expect(sha).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(Object.keys(ETCD_RELEASES[DEFAULT_ETCD_VERSION]).sort()).toEqual(["amd64", "arm64"]);
  });
});

describe("resolveInstallPlan", () => {
  test("defaults to the pinned v3.6.14 release from GitHub", () => {
    // GIVEN no install options WHEN resolved for amd64
    const { plan, errors } = resolveInstallPlan(undefined, "amd64");
    // THEN it is the pinned release tarball, installed to /usr/local/bin
    expect(errors).toEqual([]);
    expect(plan).toEqual({
      source: "release",
      version: "v3.6.14",
      arch: "amd64",
      sha256: "ffe840ff9295808e88cce2794a18a5ac87f12a5203c8314d0bf6aa119b41bac5",
      url: "https://github.com/etcd-io/etcd/releases/download/v3.6.14/etcd-v3.6.14-linux-amd64.tar.gz",
      binDir: "/usr/local/bin",
    });
  });

  test("picks the arm64 build and checksum for Graviton", () => {
    // GIVEN no options WHEN resolved for arm64 THEN the arm64 tarball and its pin are used
    const { plan } = resolveInstallPlan({}, "arm64");
    expect(plan).toMatchObject({
      sha256: "fa1b80565ee6fc2df1ae6f57a508b221f3ecc7d591c317c581cd8281b0842b3e",
      url: `${DEFAULT_MIRROR_URL}/v3.6.14/etcd-v3.6.14-linux-arm64.tar.gz`,
    });
  });

  test("uses the pin of another pinned version", () => {
    // GIVEN another pinned version WHEN resolved THEN its own pin is used
    expect(resolveInstallPlan({ version: "v3.5.33" }, "amd64").plan).toMatchObject({
      version: "v3.5.33",
      sha256: "5025b5b24d81a9616b6e284ccd439b9a3df055ef8fdcdc142af3ec8f6a3b3c95",
    });
  });

  test("takes an unpinned version with its sha256 (lower-cased) and a mirror (trailing slash dropped)", () => {
    // GIVEN a version this library does not pin, its checksum and a mirror
    const { plan, errors } = resolveInstallPlan(
      { version: "v3.4.23", sha256: SHA.toUpperCase(), mirrorUrl: "http://mirror.internal/etcd/" },
      "amd64"
    );
    // THEN the plan downloads from the mirror and checks the given sha256
    expect(errors).toEqual([]);
    expect(plan).toMatchObject({ sha256: SHA, url: "http://mirror.internal/etcd/v3.4.23/etcd-v3.4.23-linux-amd64.tar.gz" });
  });

  test("installs the distribution's package into /usr/bin", () => {
    // GIVEN source "package" WHEN resolved THEN the plan installs the package, by default "etcd"
    expect(resolveInstallPlan({ source: "package" }, "amd64")).toEqual({
      plan: { source: "package", packageName: "etcd", binDir: "/usr/bin" },
      errors: [],
    });
    expect(resolveInstallPlan({ source: "package", packageName: "etcd-server" }, "arm64").plan).toMatchObject({
      packageName: "etcd-server",
    });
  });

  // [what, options, arch, field, the bad value as shown, a piece of the fix]
  test.each<[string, EtcdInstallOptions, EtcdArch, string, string, string]>([
    ["an unpinned version without sha256", { version: "v3.5.20" }, "amd64", "install.version", '"v3.5.20"', "set install.sha256"],
    [
      "a pinned version without a pin for this architecture",
      { version: "v3.5.33" },
      "arm64",
      "install.version",
      '"v3.5.33"',
      "etcd-v3.5.33-linux-arm64.tar.gz",
    ],
    ["a version without the v", { version: "3.6.14" }, "amd64", "install.version", '"3.6.14"', 'look like "v3.6.14"'],
    ["a version outside 3.4 to 3.6", { version: "v3.7.0", sha256: SHA }, "amd64", "install.version", '"v3.7.0"', "v3.4, v3.5 or v3.6"],
    ["a truncated version", { version: "v3.6", sha256: SHA }, "amd64", "install.version", '"v3.6"', "fix the version"],
    ["a short sha256", { version: "v3.4.23", sha256: "abc123" }, "amd64", "install.sha256", '"abc123"', "64 hexadecimal characters"],
    [
      "a sha256 that is not hex",
      { version: "v3.4.23", sha256: "g".repeat(64) },
      "amd64",
      "install.sha256",
      "gggg",
      "copy it from the release's SHA256SUMS",
    ],
    ["a sha256 that contradicts the pin", { sha256: SHA }, "amd64", "install.sha256", SHA, "remove install.sha256"],
    [
      "a mirror that is not http(s)",
      { mirrorUrl: "ftp://mirror.internal/etcd" },
      "amd64",
      "install.mirrorUrl",
      '"ftp://mirror.internal/etcd"',
      "http(s) URL",
    ],
    ["a mirror with a quote", { mirrorUrl: "https://mirror.internal/'x" }, "amd64", "install.mirrorUrl", "'x", "fix the URL"],
    ["a mirror with a space", { mirrorUrl: "https://mirror.internal/a b" }, "amd64", "install.mirrorUrl", "a b", "fix the URL"],
    ["a package name for a release", { packageName: "etcd" }, "amd64", "install.packageName", '"etcd"', 'set source to "package"'],
    ["an unknown source", { source: "docker" as never }, "amd64", "install.source", '"docker"', '"release" or "package"'],
    [
      "a package name with shell syntax",
      { source: "package", packageName: "etcd; rm -rf /" },
      "amd64",
      "install.packageName",
      '"etcd; rm -rf /"',
      "plain package name",
    ],
    [
      "a package name that reads as an option",
      { source: "package", packageName: "--allowerasing" },
      "amd64",
      "install.packageName",
      '"--allowerasing"',
      "plain package name",
    ],
    [
      "a version for a package",
      { source: "package", version: "v3.5.33" },
      "amd64",
      "install.version",
      '"v3.5.33"',
      'set source to "release"',
    ],
    [
      "a mirror for a package",
      { source: "package", mirrorUrl: DEFAULT_MIRROR_URL },
      "amd64",
      "install.mirrorUrl",
      DEFAULT_MIRROR_URL,
      'set source to "release"',
    ],
  ])("reports %s with field, value and fix, and gives no plan", (_what, options, arch, field, value, fix) => {
    // GIVEN install options that cannot be installed as they are
    // WHEN resolved
    const { plan, errors } = resolveInstallPlan(options, arch);
    // THEN there is no plan and one message names field, value and fix
    expect(plan).toBeUndefined();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(field);
    expect(errors[0]).toContain(value);
    expect(errors[0]).toContain(fix);
  });
});
