import { execFileSync, spawn, spawnSync } from "child_process";
import { createHash } from "crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "fs";
import { createServer, type Server } from "http";
import { tmpdir } from "os";
import { join } from "path";
import { type InstallPlan, resolveInstallPlan } from "../../lib/etcd/releases";
import { type BootScriptInput, renderBootScript } from "../../lib/node/boot-script";
import { requireTool } from "../support/tools";

const TLS = { certFile: "/etc/etcd/ssl/etcd.pem", keyFile: "/etc/etcd/ssl/etcd-key.pem", trustedCaFile: "/etc/etcd/ssl/ca.pem" };
const RELEASE = resolveInstallPlan(undefined, "amd64").plan as InstallPlan;
const PACKAGE = resolveInstallPlan({ source: "package" }, "amd64").plan as InstallPlan;
const input = (install: InstallPlan, healthTimeoutSeconds = 600): BootScriptInput => ({
  install,
  dataDir: "/var/lib/etcd",
  user: "etcd",
  tls: TLS,
  healthTimeoutSeconds,
});

describe("renderBootScript", () => {
  test("verifies the release tarball before unpacking it and installs etcd, etcdctl and etcdutl", () => {
    // GIVEN the default release plan WHEN the script is rendered
    const script = renderBootScript(input(RELEASE));
    // THEN it is strict POSIX sh and checks the pinned sha256 before tar runs
    expect(script.startsWith("#!/bin/sh\n")).toBe(true);
    expect(script).toContain("\nset -eu\n");
    expect(script).toContain(`ETCD_URL='${RELEASE.source === "release" && RELEASE.url}'`);
    expect(script).toContain("ETCD_SHA256='ffe840ff9295808e88cce2794a18a5ac87f12a5203c8314d0bf6aa119b41bac5'");
    expect(script).toContain("BIN_DIR='/usr/local/bin'");
    expect(script).toMatch(/curl -fsSL --retry \d+/);
    expect(script.indexOf("sha256sum -c")).toBeGreaterThan(0);
    expect(script.indexOf("sha256sum -c")).toBeLessThan(script.indexOf("tar -xzf"));
    expect(script).toContain("install -m 0755 etcd etcdctl");
    expect(script).toContain("if [ -f etcdutl ]");
    expect(script).toMatchSnapshot();
  });

  test("installs the distribution package with whichever package manager there is, then stops what it started", () => {
    // GIVEN a package plan WHEN the script is rendered THEN it tries dnf, yum and apt-get and stops the package's etcd
    const script = renderBootScript(input(PACKAGE));
    expect(script).toContain("ETCD_PACKAGE='etcd'");
    expect(script).toContain("BIN_DIR='/usr/bin'");
    expect(script).toMatch(/dnf install -y "\$ETCD_PACKAGE"[\s\S]*yum install -y[\s\S]*apt-get install -y/);
    expect(script).toContain("systemctl stop etcd");
    expect(script).not.toContain("ETCD_URL");
    expect(script).toMatchSnapshot();
  });

  test("prepares the data directory, starts etcd without blocking, then waits for /health over mTLS", () => {
    // GIVEN a 300 s health timeout WHEN the script is rendered THEN the remaining steps are there, main last
    const script = renderBootScript(input(RELEASE, 300));
    expect(script).toContain("HEALTH_TIMEOUT=300");
    expect(script).toMatch(/mkdir -p "\$DATA_DIR"\n\s*chown "\$ETCD_USER:" "\$DATA_DIR"\n\s*chmod 0700 "\$DATA_DIR"/);
    expect(script).toMatch(/systemctl daemon-reload\n\s*systemctl enable etcd\n[\s\S]*systemctl restart --no-block etcd/);
    expect(script).toContain('curl -fsS -m 5 --cacert "$CA_FILE" --cert "$CERT_FILE" --key "$KEY_FILE"');
    expect(script).toContain("https://127.0.0.1:2379/health");
    expect(script).toContain(`grep -q '"health":"true"'`);
    expect(script).toContain("journalctl -u etcd --no-pager -n 50");
    expect(script.trimEnd().split("\n").pop()).toBe('main "$@"');
  });

  test.each([0, -1, 1.5, Number.NaN])("refuses a health timeout of %p seconds", (seconds) => {
    // GIVEN a timeout that is not a positive whole number WHEN rendered THEN it throws
    expect(() => renderBootScript(input(RELEASE, seconds))).toThrow(/healthTimeoutSeconds/);
  });

  test.each([
    ["release", RELEASE],
    ["package", PACKAGE],
  ])("the %s script passes sh -n", (_what, plan) => {
    // GIVEN the rendered script WHEN dash parses it without running it THEN there is no syntax error
    const sh = requireTool("sh", "dash");
    const result = spawnSync(sh, ["-n"], { input: renderBootScript(input(plan)), encoding: "utf8" });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  test("sh -n catches a syntax error, so the check above can fail", () => {
    // GIVEN the script with a "done" removed WHEN parsed THEN dash reports it
    const result = spawnSync(requireTool("sh", "dash"), ["-n"], { input: renderBootScript(input(RELEASE)).replace("done\n", "\n"), encoding: "utf8" });
    expect(result.status).not.toBe(0);
  });
});

describe("running the boot script's steps", () => {
  const VERSION = "v3.4.23";
  let dir: string;
  let server: Server;
  let mirrorUrl: string;
  let tarballSha: string;

  beforeAll(async () => {
    for (const [tool, pkg] of [["sh", "dash"], ["curl", "curl"], ["tar", "tar"], ["gzip", "gzip"], ["sha256sum", "coreutils"], ["install", "coreutils"]]) {
      requireTool(tool, pkg);
    }
    dir = mkdtempSync(join(tmpdir(), "boot-script-"));
    // GIVEN a release tarball laid out like etcd's (3.4: no etcdutl), built from this machine's etcd
    const top = `etcd-${VERSION}-linux-amd64`;
    const release = join(dir, "mirror", VERSION);
    mkdirSync(join(release, top), { recursive: true });
    copyFileSync(requireTool("etcd", "etcd-server"), join(release, top, "etcd"));
    copyFileSync(requireTool("etcdctl", "etcd-client"), join(release, top, "etcdctl"));
    execFileSync("tar", ["czf", `${top}.tar.gz`, top], { cwd: release });
    const tarball = readFileSync(join(release, `${top}.tar.gz`));
    tarballSha = createHash("sha256").update(tarball).digest("hex");
    // ... served from 127.0.0.1 only
    server = createServer((req, res) => {
      if (req.url === `/${VERSION}/${top}.tar.gz`) res.end(tarball);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    mirrorUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;

    // Wrappers that record whether tar ran, and stand-ins for journalctl and curl in the timeout case.
    const bin = join(dir, "bin");
    mkdirSync(bin);
    const tar = requireTool("tar", "tar");
    writeFileSync(join(bin, "tar"), `#!/bin/sh\necho "tar $*" >> "${join(dir, "tar.log")}"\nexec ${tar} "$@"\n`);
    chmodSync(join(bin, "tar"), 0o755);
  });

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Sources the script without its last line (`main "$@"`), then runs `steps` in the same shell. */
  function runSteps(script: string, steps: string, extraPath = ""): Promise<{ code: number | null; out: string; leftInTmp: string[] }> {
    const lines = script.trimEnd().split("\n");
    expect(lines.pop()).toBe('main "$@"');
    const lib = join(dir, `lib-${Date.now()}.sh`);
    writeFileSync(lib, lines.join("\n") + "\n");
    const work = mkdtempSync(join(dir, "tmp-"));
    const child = spawn(requireTool("sh", "dash"), ["-c", `. "$1"; ${steps}`, "sh", lib], {
      env: { PATH: `${extraPath}${join(dir, "bin")}:/usr/bin:/bin`, TMPDIR: work },
    });
    let out = "";
    child.stdout.on("data", (chunk) => (out += chunk));
    child.stderr.on("data", (chunk) => (out += chunk));
    return new Promise((resolve) => child.on("close", (code) => resolve({ code, out, leftInTmp: readdirSync(work) })));
  }

  const releaseScript = (sha256: string) => {
    const { plan, errors } = resolveInstallPlan({ version: VERSION, sha256, mirrorUrl }, "amd64");
    expect(errors).toEqual([]);
    return renderBootScript(input(plan as InstallPlan));
  };

  test("with the right sha256 it downloads, verifies, unpacks and installs etcd and etcdctl", async () => {
    // GIVEN an empty install directory and the tarball's real checksum
    const binDir = mkdtempSync(join(dir, "usr-local-bin-"));
    rmSync(join(dir, "tar.log"), { force: true });
    // WHEN install_etcd runs with BIN_DIR pointing there
    const { code, out, leftInTmp } = await runSteps(releaseScript(tarballSha), `BIN_DIR='${binDir}'; install_etcd`);
    // THEN both binaries are installed and run, tar ran, and nothing is left in the temp dir
    expect({ code, out }).toMatchObject({ code: 0 });
    expect(readdirSync(binDir).sort()).toEqual(["etcd", "etcdctl"]);
    expect(execFileSync(join(binDir, "etcd"), ["--version"], { encoding: "utf8" })).toContain("etcd Version: 3.4.23");
    expect(readFileSync(join(dir, "tar.log"), "utf8")).toContain("tar -xzf");
    expect(leftInTmp).toEqual([]);
  });

  test("with a wrong sha256 it exits non-zero before tar ever runs", async () => {
    // GIVEN a checksum that does not match the served tarball
    const binDir = mkdtempSync(join(dir, "usr-local-bin-"));
    rmSync(join(dir, "tar.log"), { force: true });
    // WHEN install_etcd runs
    const { code, out, leftInTmp } = await runSteps(releaseScript("0".repeat(64)), `BIN_DIR='${binDir}'; install_etcd`);
    // THEN it fails with a clear message, never calls tar, installs nothing and removes the download
    expect(code).not.toBe(0);
    expect(leftInTmp).toEqual([]);
    expect(out).toContain(`SHA-256 mismatch for ${mirrorUrl}/${VERSION}/etcd-${VERSION}-linux-amd64.tar.gz`);
    expect(existsSync(join(dir, "tar.log"))).toBe(false);
    expect(readdirSync(binDir)).toEqual([]);
  });

  test("when etcd never gets healthy it prints the unit's journal and exits 1", async () => {
    // GIVEN no etcd answering (curl stand-in fails) and a journalctl stand-in
    const fakes = mkdtempSync(join(dir, "fakes-"));
    writeFileSync(join(fakes, "curl"), "#!/bin/sh\nexit 7\n");
    writeFileSync(join(fakes, "journalctl"), '#!/bin/sh\necho "journal: $*"\n');
    chmodSync(join(fakes, "curl"), 0o755);
    chmodSync(join(fakes, "journalctl"), 0o755);
    // WHEN wait_healthy runs with a zero timeout
    const { code, out } = await runSteps(releaseScript(tarballSha), "HEALTH_TIMEOUT=0; wait_healthy", `${fakes}:`);
    // THEN it shows the last 50 journal lines of etcd and fails
    expect(code).toBe(1);
    expect(out).toContain("journal: -u etcd --no-pager -n 50");
    expect(out).toContain("etcd not healthy after 0 seconds");
  });
});
