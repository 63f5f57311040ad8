import { execFileSync, spawn, spawnSync } from "child_process";
import { pemArmour } from "../support/pem";
import { createHash } from "crypto";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "fs";
import { createServer, type Server } from "http";
import { tmpdir } from "os";
import { join } from "path";
import { type InstallPlan, resolveInstallPlan } from "../../lib/etcd/releases";
import { type BootScriptInput, renderBootScript } from "../../lib/host/boot-script";
import { requireTool } from "../support/tools";

const RELEASE = resolveInstallPlan(undefined, "amd64").plan as InstallPlan;
const PACKAGE = resolveInstallPlan({ source: "package" }, "amd64").plan as InstallPlan;
const input = (install: InstallPlan, healthTimeoutSeconds = 600, keyParameter?: string): BootScriptInput => ({
  install,
  dataDir: "/var/lib/etcd",
  user: "etcd",
  confFile: "/etc/etcd/etcd.conf",
  healthTimeoutSeconds,
  ...(keyParameter === undefined ? {} : { keyParameter }),
});
const KEY_PARAMETER = "/etcd/etcd_node1/key";

/** Sources `script` without its last line (`main "$@"`), then runs `steps` in the same shell, with `dir`/bin on PATH. */
function runSteps(
  dir: string,
  script: string,
  steps: string,
  extraPath = ""
): Promise<{ code: number | null; out: string; leftInTmp: string[] }> {
  const lines = script.trimEnd().split("\n");
  expect(lines.pop()).toBe('main "$@"');
  const lib = mkdtempSync(join(dir, "lib-"));
  writeFileSync(join(lib, "steps.sh"), lines.join("\n") + "\n");
  const work = mkdtempSync(join(dir, "tmp-"));
  const child = spawn(requireTool("sh", "dash"), ["-c", `. "$1"; ${steps}`, "sh", join(lib, "steps.sh")], {
    env: { PATH: `${extraPath}${join(dir, "bin")}:/usr/bin:/bin`, TMPDIR: work },
  });
  let out = "";
  child.stdout.on("data", (chunk) => (out += chunk));
  child.stderr.on("data", (chunk) => (out += chunk));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, out, leftInTmp: readdirSync(work) })));
}

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
    expect(script).toContain('curl -fsS -m 5 --cacert "$ETCD_TRUSTED_CA_FILE" --cert "$ETCD_CERT_FILE" --key "$ETCD_KEY_FILE"');
    // The TLS paths come from etcd.conf itself, sourced first: one source of truth.
    expect(script).toMatch(/^main\(\) \{\n  \. "\$ETCD_CONF"\n/m);
    expect(script).toContain("https://127.0.0.1:2379/health");
    expect(script).toContain(`grep -q '"health":"true"'`);
    expect(script).toContain("journalctl -u etcd --no-pager -n 50");
    expect(script.trimEnd().split("\n").pop()).toBe('main "$@"');
  });

  test.each([
    ["release", RELEASE, undefined],
    ["package", PACKAGE, undefined],
    ["release + SSM key", RELEASE, KEY_PARAMETER],
    ["package + SSM key", PACKAGE, KEY_PARAMETER],
  ])("the %s script passes sh -n", (_what, plan, keyParameter) => {
    // GIVEN the rendered script WHEN dash parses it without running it THEN there is no syntax error
    const sh = requireTool("sh", "dash");
    const result = spawnSync(sh, ["-n"], { input: renderBootScript(input(plan, 600, keyParameter)), encoding: "utf8" });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  test("with a key parameter it fetches the key from SSM after installing etcd and before starting it", () => {
    // GIVEN a key held in SSM WHEN the script is rendered
    const script = renderBootScript(input(RELEASE, 600, KEY_PARAMETER));
    // THEN the parameter and the fetch bounds are plain settings a rehearsal can change
    expect(script).toContain(`KEY_PARAMETER='${KEY_PARAMETER}'\nKEY_TIMEOUT=300\nKEY_INTERVAL=5\n`);
    // AND the region comes from IMDSv2 (a token first, then the region with it) in a function of its own
    expect(script).toContain("instance_region() {\n  u=http://169.254.169.254/latest\n");
    expect(script).toContain("t=$(curl -fsS -m 5 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' $u/api/token) &&");
    expect(script).toContain('curl -fsS -m 5 -H "X-aws-ec2-metadata-token: $t" $u/meta-data/placement/region');
    // AND fetch_key asks SSM to decrypt, writes through a temp file in the key's directory, and runs between the two steps
    expect(script).toContain('aws ssm get-parameter --region "$REGION" --name "$KEY_PARAMETER" --with-decryption');
    expect(script).toContain("--query Parameter.Value --output text");
    expect(script).toContain('mktemp "$ETCD_KEY_FILE.XXXXXX"');
    expect(script).toContain("umask 077");
    expect(script).toMatch(
      /main\(\) \{\n  \. "\$ETCD_CONF"\n  install_etcd\n  prepare_data_dir\n  fetch_key\n  start_etcd\n  wait_healthy\n\}/
    );
    expect(script).toMatchSnapshot();
  });

  test("without a key parameter there is no fetch_key and no SSM setting", () => {
    // GIVEN no key parameter WHEN rendered THEN the key is expected on disk already
    const script = renderBootScript(input(RELEASE));
    expect(script).not.toMatch(/fetch_key|KEY_PARAMETER|instance_region|aws ssm/);
  });

  test("sh -n catches a syntax error, so the check above can fail", () => {
    // GIVEN the script with a "done" removed WHEN parsed THEN dash reports it
    const result = spawnSync(requireTool("sh", "dash"), ["-n"], {
      input: renderBootScript(input(RELEASE)).replace("done\n", "\n"),
      encoding: "utf8",
    });
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
    for (const [tool, pkg] of [
      ["sh", "dash"],
      ["curl", "curl"],
      ["tar", "tar"],
      ["gzip", "gzip"],
      ["sha256sum", "coreutils"],
      ["install", "coreutils"],
    ]) {
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

  const run = (script: string, steps: string, extraPath = "") => runSteps(dir, script, steps, extraPath);

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
    const { code, out, leftInTmp } = await run(releaseScript(tarballSha), `BIN_DIR='${binDir}'; install_etcd`);
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
    const { code, out, leftInTmp } = await run(releaseScript("0".repeat(64)), `BIN_DIR='${binDir}'; install_etcd`);
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
    const { code, out } = await run(releaseScript(tarballSha), "HEALTH_TIMEOUT=0; wait_healthy", `${fakes}:`);
    // THEN it shows the last 50 journal lines of etcd and fails
    expect(code).toBe(1);
    expect(out).toContain("journal: -u etcd --no-pager -n 50");
    expect(out).toContain("etcd not healthy after 0 seconds");
  });
});

describe("running fetch_key", () => {
  const KEY_PEM = readFileSync(join(__dirname, "..", "fixtures", "insecure-test-pki", "etcd_node1-key.pem"), "utf8");
  const AWS_ERROR = "An error occurred (AccessDeniedException) when calling the GetParameter operation: not authorized yet";
  const script = renderBootScript(input(RELEASE, 600, KEY_PARAMETER));
  let dir: string;
  let etcdUid: number;

  beforeAll(() => {
    for (const [tool, pkg] of [
      ["sh", "dash"],
      ["mktemp", "coreutils"],
      ["chown", "coreutils"],
      ["grep", "grep"],
    ])
      requireTool(tool, pkg);
    // The key goes to the real etcd user (Debian's etcd-server creates it), which only root can chown to.
    const id = spawnSync("id", ["-u", "etcd"], { encoding: "utf8" });
    if (id.status !== 0) throw new Error("there is no etcd user: apt-get install etcd-server");
    if (process.getuid?.() !== 0) throw new Error("run this suite as root: fetch_key chowns the key to etcd");
    etcdUid = Number(id.stdout.trim());
    expect(KEY_PEM).toMatch(/^-{5}BEGIN [A-Z ]*PRIVATE KEY-{5}\n/);
    dir = mkdtempSync(join(tmpdir(), "fetch-key-"));
    mkdirSync(join(dir, "bin"));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /**
   * A stand-in `aws` (first on PATH) that logs its arguments, fails its first `failures` calls the
   * way the CLI does while the instance profile is not usable yet, then prints `value` as
   * `--output text` would (with a newline).
   */
  function fakeAws(failures: number, value: string): { path: string; calls: () => string[] } {
    const fake = mkdtempSync(join(dir, "fake-aws-"));
    writeFileSync(join(fake, "value"), `${value}\n`);
    writeFileSync(
      join(fake, "aws"),
      `#!/bin/sh
echo "$* pager=[$AWS_PAGER]" >> '${fake}/calls'
n=$(($(wc -l < '${fake}/calls')))
if [ "$n" -le ${failures} ]; then printf '\\n%s\\n' '${AWS_ERROR}' >&2; exit 254; fi
cat '${fake}/value'
`
    );
    chmodSync(join(fake, "aws"), 0o755);
    return { path: `${fake}:`, calls: () => readFileSync(join(fake, "calls"), "utf8").trimEnd().split("\n") };
  }

  /** fetch_key with the key written into a fresh directory, the region stubbed and small bounds. */
  async function fetchKey(aws: { path: string }, bounds: { timeout: number; interval: number }, extraSteps = "") {
    const keyDir = mkdtempSync(join(dir, "ssl-"));
    const keyFile = join(keyDir, "etcd-key.pem");
    const started = Date.now();
    const result = await runSteps(
      dir,
      script,
      `ETCD_KEY_FILE='${keyFile}'; KEY_TIMEOUT=${bounds.timeout}; KEY_INTERVAL=${bounds.interval}; ${extraSteps} instance_region() { echo eu-test-1; }; fetch_key`,
      aws.path
    );
    return { ...result, keyDir, keyFile, seconds: (Date.now() - started) / 1000 };
  }

  test("GIVEN SSM returns the key WHEN fetch_key runs THEN the key file is the key, mode 0600, owned by etcd, and never logged", async () => {
    const aws = fakeAws(0, KEY_PEM.trimEnd());
    // WHEN
    const { code, out, keyDir, keyFile, leftInTmp } = await fetchKey(aws, { timeout: 5, interval: 0 });
    // THEN
    expect({ code, out }).toMatchObject({ code: 0 });
    expect(readFileSync(keyFile, "utf8")).toBe(KEY_PEM);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(statSync(keyFile).uid).toBe(etcdUid);
    expect(readdirSync(keyDir)).toEqual(["etcd-key.pem"]);
    expect(leftInTmp).toEqual([]);
    expect(out).toContain(`wrote ${keyFile}`);
    expect(out).not.toContain("PRIVATE KEY");
    expect(out).not.toContain(KEY_PEM.split("\n")[1]);
    // AND the CLI was asked for the decrypted value only, in the instance's region, without a pager
    expect(aws.calls()).toEqual([
      `ssm get-parameter --region eu-test-1 --name ${KEY_PARAMETER} --with-decryption --query Parameter.Value --output text --cli-connect-timeout 10 pager=[]`,
    ]);
  });

  test("GIVEN SSM refuses twice, as while the instance profile propagates, WHEN fetch_key runs THEN it retries with progress lines and succeeds", async () => {
    const aws = fakeAws(2, KEY_PEM.trimEnd());
    // WHEN it runs over a stale, world-readable key file
    const stale = `printf stale > "$ETCD_KEY_FILE"; chmod 0644 "$ETCD_KEY_FILE";`;
    const { code, out, keyFile } = await fetchKey(aws, { timeout: 30, interval: 0 }, stale);
    // THEN
    expect({ code, out }).toMatchObject({ code: 0 });
    expect(aws.calls()).toHaveLength(3);
    const progress = out.split("\n").filter((line) => line.includes("no key yet"));
    expect(progress).toHaveLength(2);
    expect(progress[0]).toMatch(new RegExp(`^etcd-bootstrap: no key yet, \\d+ s left: ${escapeRegExp(AWS_ERROR)}$`));
    // AND the key replaced the stale file, private to etcd
    expect(readFileSync(keyFile, "utf8")).toBe(KEY_PEM);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(statSync(keyFile).uid).toBe(etcdUid);
  });

  test("GIVEN SSM always refuses WHEN fetch_key runs THEN it gives up within its bound, naming the parameter and the CLI's error", async () => {
    const aws = fakeAws(Number.MAX_SAFE_INTEGER, KEY_PEM.trimEnd());
    // WHEN the bound is 2 s with a try every second
    const { code, out, keyDir, leftInTmp, seconds } = await fetchKey(aws, { timeout: 2, interval: 1 });
    // THEN
    expect(code).toBe(1);
    expect(seconds).toBeLessThan(10);
    expect(aws.calls().length).toBeGreaterThanOrEqual(2);
    expect(out).toMatch(new RegExp(`etcd-bootstrap: cannot read SSM parameter ${KEY_PARAMETER}: \\s*${escapeRegExp(AWS_ERROR)}`));
    expect(readdirSync(keyDir)).toEqual([]);
    expect(leftInTmp).toEqual([]);
  });

  test.each([
    ["a missing value", "None"],
    ["a certificate", "-----BEGIN CERTIFICATE-----\nMIIBfixture\n-----END CERTIFICATE-----"],
    ["a truncated key", pemArmour("PRIVATE KEY", "MIIEfixture").split("\n").slice(0, 2).join("\n")],
    ["a public key", "-----BEGIN PUBLIC KEY-----\nMIIBfixture\n-----END PUBLIC KEY-----"],
  ])("GIVEN SSM returns %s WHEN fetch_key runs THEN it fails and writes no key file", async (_what, value) => {
    // WHEN
    const { code, out, keyDir, leftInTmp } = await fetchKey(fakeAws(0, value), { timeout: 5, interval: 0 });
    // THEN it refuses without echoing what it got
    expect(code).toBe(1);
    expect(out).toContain(`${KEY_PARAMETER} holds no PEM private key`);
    expect(out).not.toContain("fixture");
    expect(readdirSync(keyDir)).toEqual([]);
    expect(leftInTmp).toEqual([]);
  });

  test("GIVEN the key cannot be given to etcd WHEN fetch_key runs THEN it fails, leaving neither a key nor a temp file", async () => {
    // WHEN the owner does not exist, so chown fails after the key was fetched
    const { code, keyDir } = await fetchKey(fakeAws(0, KEY_PEM.trimEnd()), { timeout: 5, interval: 0 }, "ETCD_USER=no-such-user;");
    // THEN
    expect(code).not.toBe(0);
    expect(readdirSync(keyDir)).toEqual([]);
  });

  test("GIVEN no region from the metadata service WHEN fetch_key runs THEN it fails before asking SSM", async () => {
    const aws = fakeAws(0, KEY_PEM.trimEnd());
    const keyDir = mkdtempSync(join(dir, "ssl-"));
    // WHEN
    const { code, out } = await runSteps(
      dir,
      script,
      `ETCD_KEY_FILE='${keyDir}/etcd-key.pem'; instance_region() { return 7; }; fetch_key`,
      aws.path
    );
    // THEN
    expect(code).toBe(1);
    expect(out).toContain("no region from IMDS");
    expect(existsSync(join(aws.path.slice(0, -1), "calls"))).toBe(false);
    expect(readdirSync(keyDir)).toEqual([]);
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^$()|[\]\\{}]/g, "\\$&");
}
