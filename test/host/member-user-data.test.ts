import { spawnSync } from "child_process";
import { pemArmour } from "../support/pem";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { renderEtcdConf } from "../../lib/etcd/etcd-conf";
import { type InstallPlan, resolveInstallPlan } from "../../lib/etcd/releases";
import { parseCloudConfig } from "../../lib/host/cloud-config";
import { ETCD_PATHS, type KeyDelivery, type MemberUserDataInput, renderMemberUserData } from "../../lib/host/member-user-data";
import { opensslPki, readPem, testPki } from "../etcd/helpers/pki";
import { seedNode1Conf } from "../etcd/helpers/seed";
import { requireTool } from "../support/tools";

const RELEASE = resolveInstallPlan(undefined, "amd64").plan as InstallPlan;
const pem = (label: string) => pemArmour(label, `FIXTURE+${label.replace(/ /g, "+")}`);
/** The seed's etcd_node1 with stand-in PEMs, so the snapshot does not change with every PKI. */
const seedInput = (overrides: Partial<MemberUserDataInput> = {}): MemberUserDataInput => ({
  member: { name: "etcd_node1", peerUrl: "https://172.16.0.101:2380", clientUrl: "https://172.16.0.101:2379", initialClusterState: "new" },
  initialCluster: seedNode1Conf().initialCluster,
  initialClusterToken: seedNode1Conf().initialClusterToken,
  settings: {},
  caCertPem: pem("CERTIFICATE"),
  certPem: pem("CERTIFICATE"),
  keyDelivery: { mode: "user-data", keyPem: pem("PRIVATE KEY") },
  install: RELEASE,
  ...overrides,
});
const KEY_PARAMETER = "/etcd/etcd_node1/key";
const SSM: KeyDelivery = { mode: "ssm", parameterName: KEY_PARAMETER };
const bootScriptOf = (text: string) =>
  parseCloudConfig(text).writeFiles?.find((file) => file.path === ETCD_PATHS.bootScript)?.content ?? "";

describe("renderMemberUserData", () => {
  test("writes the seed's files with the seed's paths, owners and modes, then runs the boot script", () => {
    // GIVEN the seed's etcd_node1
    // WHEN its user data is rendered
    const text = renderMemberUserData(seedInput());
    const config = parseCloudConfig(text);
    // THEN it creates the etcd user after the image's default user
    expect(text.startsWith("#cloud-config\n")).toBe(true);
    expect(config.users).toEqual(["default", { name: "etcd", system: true, shell: "/sbin/nologin", homedir: "/var/lib/etcd" }]);
    // AND writes every file where the seed puts it, the key private to etcd and written after the user exists
    expect(config.writeFiles?.map(({ content: _content, ...file }) => file)).toEqual([
      { path: "/etc/etcd/ssl/ca.pem", permissions: "0644" },
      { path: "/etc/etcd/ssl/etcd.pem", permissions: "0644" },
      { path: "/etc/etcd/ssl/etcd-key.pem", permissions: "0600", owner: "etcd:etcd", defer: true },
      { path: "/etc/etcd/etcd.conf", permissions: "0644" },
      { path: "/etc/systemd/system/etcd.service", permissions: "0644" },
      { path: "/usr/local/sbin/etcd-bootstrap", permissions: "0755", compress: true },
    ]);
    const content = (path: string) => config.writeFiles?.find((file) => file.path === path)?.content ?? "";
    expect(content(ETCD_PATHS.key)).toBe(pem("PRIVATE KEY"));
    // AND etcd.conf is the seed's, with the paths, data root and loopback URL the renderer owns
    expect(content(ETCD_PATHS.conf)).toBe(renderEtcdConf(seedNode1Conf()));
    expect(content(ETCD_PATHS.unit)).toContain("ExecStart=/usr/local/bin/etcd\n");
    expect(content(ETCD_PATHS.bootScript)).toContain("HEALTH_TIMEOUT=600\n");
    expect(config.runcmd).toEqual([["/usr/local/sbin/etcd-bootstrap"]]);
    // The placeholder key's armour is masked: no snapshot should look like it holds a key.
    expect(text.replace(/-{5}(BEGIN|END) PRIVATE KEY-{5}/g, "<$1 member key>")).toMatchSnapshot();
  });

  test("points the unit at the package's binary and passes the health timeout on", () => {
    // GIVEN a package install and a 120 s timeout WHEN rendered THEN the unit runs /usr/bin/etcd and the script waits 120 s
    const config = parseCloudConfig(
      renderMemberUserData(seedInput({ install: resolveInstallPlan({ source: "package" }, "amd64").plan, healthTimeoutSeconds: 120 }))
    );
    const content = (path: string) => config.writeFiles?.find((file) => file.path === path)?.content ?? "";
    expect(content(ETCD_PATHS.unit)).toContain("ExecStart=/usr/bin/etcd\n");
    expect(content(ETCD_PATHS.bootScript)).toContain("HEALTH_TIMEOUT=120\n");
  });

  test("with the key in SSM, writes every file but the key, and the boot script fetches it before etcd starts", () => {
    // GIVEN the seed's etcd_node1 with its key in an SSM parameter
    // WHEN its user data is rendered
    const text = renderMemberUserData(seedInput({ keyDelivery: SSM }));
    const config = parseCloudConfig(text);
    // THEN no private key is anywhere in it
    expect(text).not.toContain("PRIVATE KEY");
    // AND the etcd user is still created, for fetch_key to chown the key to
    expect(config.users).toEqual(["default", { name: "etcd", system: true, shell: "/sbin/nologin", homedir: "/var/lib/etcd" }]);
    // AND the other files are written as before, the key file not at all
    expect(config.writeFiles?.map((file) => file.path)).toEqual([
      "/etc/etcd/ssl/ca.pem",
      "/etc/etcd/ssl/etcd.pem",
      "/etc/etcd/etcd.conf",
      "/etc/systemd/system/etcd.service",
      "/usr/local/sbin/etcd-bootstrap",
    ]);
    // AND the boot script reads the parameter into the path etcd.conf names
    const script = bootScriptOf(text);
    expect(script).toContain(`KEY_PARAMETER='${KEY_PARAMETER}'\n`);
    expect(script).toContain(`ETCD_CONF='${ETCD_PATHS.conf}'\n`);
    expect(script).toMatch(/\n  fetch_key\n  start_etcd\n/);
    expect(config.runcmd).toEqual([["/usr/local/sbin/etcd-bootstrap"]]);
    expect(text).toMatchSnapshot();
  });

  test("with the key in user data, the boot script does not fetch it", () => {
    // GIVEN the key in user data WHEN rendered THEN the boot script has no SSM step
    expect(bootScriptOf(renderMemberUserData(seedInput()))).not.toMatch(/fetch_key|KEY_PARAMETER/);
  });

  test.each([
    ["release", RELEASE, undefined],
    ["package", resolveInstallPlan({ source: "package" }, "amd64").plan as InstallPlan, undefined],
    ["release + SSM key", RELEASE, SSM],
    ["package + SSM key", resolveInstallPlan({ source: "package" }, "amd64").plan as InstallPlan, SSM],
  ])("has nothing Terraform would read as an interpolation, for a %s install", (_what, install, keyDelivery) => {
    // GIVEN user data that ends up as a string in Terraform JSON
    // WHEN rendered THEN it has no ${ or %{, which Terraform would try to evaluate
    const text = renderMemberUserData(seedInput({ install, ...(keyDelivery ? { keyDelivery } : {}) }));
    expect(text).not.toContain("${");
    expect(text).not.toContain("%{");
  });

  test("GIVEN a data volume THEN its id is in a file of its own, the unit needs its mount, and the boot mounts it before the data directory is made", () => {
    // GIVEN a member with a data volume WHEN rendered
    const config = parseCloudConfig(renderMemberUserData(seedInput({ dataVolumeId: "vol-0123456789abcdef0" })));
    const file = (path: string) => config.writeFiles?.find((f) => f.path === path);
    // THEN the volume id is in plain text (Terraform fills it in), apart from the compressed boot script
    expect(file(ETCD_PATHS.dataVolumeSettings)).toEqual({
      path: "/etc/etcd/data-volume.conf",
      content: "VOLUME='vol-0123456789abcdef0'\nMOUNT_POINT='/var/lib/etcd'\n",
      permissions: "0644",
    });
    // AND etcd's unit waits for the mount and refuses to start on the directory under it
    expect(file(ETCD_PATHS.unit)?.content).toContain("RequiresMountsFor=/var/lib/etcd\nAssertPathIsMountPoint=/var/lib/etcd\n");
    // AND the boot script mounts the volume after installing etcd and before making the data directory
    const main = file(ETCD_PATHS.bootScript)!.content.split("\nmain() {\n")[1];
    expect(main.split("\n").slice(1, 4)).toEqual([
      "  install_etcd",
      "  mount_data_volume '/etc/etcd/data-volume.conf'",
      "  prepare_data_dir",
    ]);
  });

  test("GIVEN no data volume THEN nothing mounts one and the unit asks for no mount", () => {
    const config = parseCloudConfig(renderMemberUserData(seedInput()));
    expect(config.writeFiles?.some((f) => f.path === ETCD_PATHS.dataVolumeSettings)).toBe(false);
    expect(bootScriptOf(renderMemberUserData(seedInput()))).not.toContain("mount_data_volume");
    expect(config.writeFiles?.find((f) => f.path === ETCD_PATHS.unit)?.content).not.toMatch(/RequiresMountsFor|AssertPathIsMountPoint/);
  });

  test("GIVEN tuning settings THEN etcd.conf carries them after the seed's keys", () => {
    // GIVEN a member with two settings WHEN rendered
    const config = parseCloudConfig(renderMemberUserData(seedInput({ settings: { ETCD_SNAPSHOT_COUNT: "5000", ETCD_LOG_LEVEL: "warn" } })));
    // THEN its etcd.conf is the seed's plus those settings, as renderEtcdConf writes them
    const conf = config.writeFiles?.find((file) => file.path === ETCD_PATHS.conf)?.content;
    expect(conf).toBe(renderEtcdConf(seedNode1Conf({ ETCD_SNAPSHOT_COUNT: "5000", ETCD_LOG_LEVEL: "warn" })));
  });
});

describe("member user data with real keys", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "user-data-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const withPki = (pkiDir: string, bits?: number, delivery: "user-data" | "ssm" = "user-data") => {
    const pki = bits ? opensslPki(pkiDir, bits) : testPki(pkiDir);
    const keyDelivery: KeyDelivery = delivery === "ssm" ? SSM : { mode: "user-data", keyPem: readPem(pki.memberKey) };
    return renderMemberUserData(seedInput({ caCertPem: readPem(pki.caCert), certPem: readPem(pki.memberCert), keyDelivery }));
  };

  const schema = (text: string) => {
    const cloudInit = requireTool("cloud-init", "cloud-init");
    const file = join(dir, `user-data-${Date.now()}.yaml`);
    writeFileSync(file, text);
    const result = spawnSync(cloudInit, ["schema", "--config-file", file], { encoding: "utf8" });
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
  };

  // The 8 KB goal is the benchmark's (npm run bench); tests hold EC2's hard limit.
  test("fits EC2's 16 KB with an RSA-2048 and an RSA-4096 member key", () => {
    // GIVEN the seed's etcd_node1 with a real PKI
    const rsa2048 = Buffer.byteLength(withPki(mkdtempSync(join(dir, "pki-2048-")), 2048));
    const rsa4096 = Buffer.byteLength(withPki(mkdtempSync(join(dir, "pki-4096-")), 4096));
    // THEN the user data stays well inside EC2's limit
    expect(rsa2048).toBeLessThan(rsa4096);
    expect(rsa4096).toBeLessThan(16384);
  });

  test("with the key in SSM: smaller than with the key in user data", () => {
    // GIVEN the seed's etcd_node1 with a real RSA-2048 PKI
    const pkiDir = mkdtempSync(join(dir, "pki-2048-"));
    const userData = Buffer.byteLength(withPki(pkiDir, 2048));
    // WHEN the same member is rendered with its key in SSM (the PKI dir is reused: same certificates)
    const ssm = Buffer.byteLength(
      renderMemberUserData(
        seedInput({
          caCertPem: readPem(join(pkiDir, "ca.pem")),
          certPem: readPem(join(pkiDir, "etcd_node1.pem")),
          keyDelivery: SSM,
        })
      )
    );
    // THEN the fetch step costs less than the key it replaces
    expect(ssm).toBeLessThan(userData);
  });

  test.each(["user-data", "ssm"] as const)("passes cloud-init's schema check with the key delivered by %s", (delivery) => {
    // GIVEN rendered user data with real certificates WHEN cloud-init checks it THEN it is valid
    const { status, output } = schema(withPki(mkdtempSync(join(dir, "pki-")), undefined, delivery));
    expect(output).toContain("Valid cloud-config");
    expect(status).toBe(0);
  });

  test("with the key in SSM, the boot script it writes passes sh -n", () => {
    // GIVEN the boot script as cloud-init will write it WHEN dash parses it THEN there is no syntax error
    const result = spawnSync(requireTool("sh", "dash"), ["-n"], {
      input: bootScriptOf(withPki(mkdtempSync(join(dir, "pki-")), undefined, "ssm")),
      encoding: "utf8",
    });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  test.each([
    [
      "unquoted numeric permissions",
      (text: string) => text.replace('permissions: "0600"', "permissions: 0600"),
      /permissions: 384 is not of type 'string'/,
    ],
    ["an unknown write_files key", (text: string) => text.replace("defer: true", "deferred: true"), /'deferred' was unexpected/],
  ])("reports %s, so the check above can fail", (_what, breakIt, message) => {
    // GIVEN the rendered user data, broken on purpose
    const broken = breakIt(renderMemberUserData(seedInput()));
    expect(broken).not.toBe(renderMemberUserData(seedInput()));
    // WHEN cloud-init checks it THEN it names the problem
    const { status, output } = schema(broken);
    expect(status).not.toBe(0);
    expect(output).toMatch(message);
  });
});
