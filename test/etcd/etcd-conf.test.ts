import { execFileSync } from "child_process";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { parseEnvironmentFile, renderEtcdConf } from "../../lib/etcd/etcd-conf";
import { tuningSettings } from "../../lib/etcd/tuning";
import { seedNode1Conf } from "./helpers/seed";
import { requireTool } from "../support/tools";

const SEED_KEY_ORDER = [
  "ETCD_NAME",
  "ETCD_DATA_DIR",
  "ETCD_LISTEN_PEER_URLS",
  "ETCD_LISTEN_CLIENT_URLS",
  "ETCD_INITIAL_ADVERTISE_PEER_URLS",
  "ETCD_INITIAL_CLUSTER",
  "ETCD_INITIAL_CLUSTER_STATE",
  "ETCD_INITIAL_CLUSTER_TOKEN",
  "ETCD_ADVERTISE_CLIENT_URLS",
  "ETCD_CERT_FILE",
  "ETCD_KEY_FILE",
  "ETCD_CLIENT_CERT_AUTH",
  "ETCD_TRUSTED_CA_FILE",
  "ETCD_PEER_CERT_FILE",
  "ETCD_PEER_KEY_FILE",
  "ETCD_PEER_CLIENT_CERT_AUTH",
  "ETCD_PEER_TRUSTED_CA_FILE",
];

const keysOf = (conf: string) =>
  conf
    .split("\n")
    .filter((line) => line.startsWith("ETCD_"))
    .map((line) => line.split("=")[0]);

describe("renderEtcdConf", () => {
  test("renders the seed's etcd_node1 with the seed's keys, in the seed's order", () => {
    // GIVEN the seed's etcd_node1
    // WHEN its etcd.conf is rendered
    const conf = renderEtcdConf(seedNode1Conf());
    // THEN it has the seed's values, minus the auto-TLS lines and the inline comments
    expect(keysOf(conf)).toEqual(SEED_KEY_ORDER);
    expect(parseEnvironmentFile(conf)).toMatchObject({
      ETCD_NAME: "etcd_node1",
      ETCD_DATA_DIR: "/var/lib/etcd/etcd_node1.etcd",
      ETCD_LISTEN_CLIENT_URLS: "https://172.16.0.101:2379,https://127.0.0.1:2379",
      ETCD_INITIAL_CLUSTER:
        "etcd_node1=https://172.16.0.101:2380,etcd_node2=https://172.16.0.102:2380,etcd_node3=https://172.16.0.103:2380",
      ETCD_INITIAL_CLUSTER_STATE: "new",
      ETCD_CLIENT_CERT_AUTH: "true",
      ETCD_PEER_CLIENT_CERT_AUTH: "true",
      ETCD_PEER_TRUSTED_CA_FILE: "/etc/etcd/ssl/ca.pem",
    });
    expect(conf).not.toMatch(/AUTO_TLS/);
    expect(conf).not.toMatch(/"\s*\/\//);
    expect(conf.startsWith("#")).toBe(true);
    expect(conf.endsWith("\n")).toBe(true);
    for (const line of conf.trimEnd().split("\n").slice(1)) expect(line).toMatch(/^ETCD_[A-Z_]+="[^"]*"$/);
    expect(conf).toMatchSnapshot();
  });

  test("drops duplicate listen client URLs, keeping the first", () => {
    // GIVEN a member whose client URL list repeats the loopback URL
    const input = {
      ...seedNode1Conf(),
      listenClientUrls: ["https://127.0.0.1:2379", "https://172.16.0.101:2379", "https://127.0.0.1:2379"],
    };
    // WHEN rendered
    // THEN each URL appears once
    expect(parseEnvironmentFile(renderEtcdConf(input)).ETCD_LISTEN_CLIENT_URLS).toBe("https://127.0.0.1:2379,https://172.16.0.101:2379");
  });

  test("appends tuning settings after the seed's keys, sorted by name", () => {
    // GIVEN settings given out of order
    const conf = renderEtcdConf(
      seedNode1Conf({ ETCD_SNAPSHOT_COUNT: "5000", ETCD_HEARTBEAT_INTERVAL: "200", ETCD_MAX_REQUEST_BYTES: "1572864" })
    );
    // WHEN rendered THEN they follow the seed's keys alphabetically
    expect(keysOf(conf)).toEqual([...SEED_KEY_ORDER, "ETCD_HEARTBEAT_INTERVAL", "ETCD_MAX_REQUEST_BYTES", "ETCD_SNAPSHOT_COUNT"]);
  });

  test.each([
    ["a double quote", 'a"b'],
    ["a backslash", "a\\b"],
    ["a dollar sign", "$HOME"],
    ["a backtick", "`id`"],
    ["a newline", "a\nETCD_X=y"],
    ["a carriage return", "a\rb"],
  ])("refuses a value with %s, which systemd and sh would read differently", (_what, value) => {
    // GIVEN a setting whose value systemd and sh disagree on
    // WHEN rendered THEN it throws, naming the key
    expect(() => renderEtcdConf(seedNode1Conf({ ETCD_LOG_OUTPUTS: value }))).toThrow(
      /ETCD_LOG_OUTPUTS .*systemd's EnvironmentFile= and sh read differently/
    );
  });

  test.each([
    ["a core value", { ...seedNode1Conf(), initialClusterToken: "tok$en" }, /ETCD_INITIAL_CLUSTER_TOKEN/],
    ["a setting that overrides a core key", seedNode1Conf({ ETCD_NAME: "other" }), /ETCD_NAME would override/],
    ["a setting that is not ETCD_*", seedNode1Conf({ PATH: "/bin" }), /"PATH" is not an ETCD_\* variable name/],
    ["an empty setting", seedNode1Conf({ ETCD_LOG_OUTPUTS: "" }), /ETCD_LOG_OUTPUTS is empty/],
  ])("throws on %s", (_what, input, message) => {
    // GIVEN an input etcd.conf cannot express safely WHEN rendered THEN it throws, saying which key
    expect(() => renderEtcdConf(input)).toThrow(message);
  });
});

describe("parseEnvironmentFile", () => {
  test("reads quoted, single-quoted and bare values and skips comments", () => {
    // GIVEN an environment file in the forms systemd accepts
    const text = '# comment\n; also a comment\n\nA="x y # z"\nB=\'it "is"\'\n  C=plain  \nA="again"\n';
    // WHEN parsed THEN later assignments win, as in systemd
    expect(parseEnvironmentFile(text)).toEqual({ A: "again", B: 'it "is"', C: "plain" });
  });

  test.each([
    ["the seed's inline comment", "ETCD_NAME=etcd_node1  // 节点名称"],
    ["a quoted value followed by a comment", 'ETCD_INITIAL_CLUSTER_STATE="new"  // 初始化集群'],
    ["an escape", 'ETCD_NAME="a\\"b"'],
    ["a line without =", "ETCD_NAME"],
  ])("refuses %s instead of guessing what systemd makes of it", (_what, line) => {
    // GIVEN a line outside the forms we write WHEN parsed THEN it throws with the line number
    expect(() => parseEnvironmentFile(`${line}\n`)).toThrow(/line 1 is not KEY="value"/);
  });
});

describe("etcd.conf read by sh and by systemd", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "etcd-conf-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** ETCD_* variables after `set -a; . FILE` in a clean POSIX sh. */
  const shEnvironment = (file: string): Record<string, string> => {
    const sh = requireTool("sh", "dash");
    const out = execFileSync(sh, ["-c", 'set -a; . "$1"; env', "sh", file], { env: {}, encoding: "utf8" });
    return Object.fromEntries(
      out
        .split("\n")
        .filter((line) => line.startsWith("ETCD_"))
        .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)])
    );
  };

  test("sh sets exactly the values parseEnvironmentFile reads, for every ETCD_* key", () => {
    // GIVEN a rendered conf with tuning, including values with spaces and shell punctuation
    const settings = {
      ...tuningSettings({
        heartbeatIntervalMs: 150,
        electionTimeoutMs: 1500,
        autoCompactionMode: "periodic",
        autoCompactionRetention: "1h",
        listenMetricsUrls: ["http://127.0.0.1:2381", "https://0.0.0.0:2382"],
        logLevel: "warn",
        extraSettings: {
          ETCD_CORS: "https://a.example.com,https://b.example.com",
          ETCD_LOG_OUTPUTS: "stderr",
          ETCD_PEER_CERT_ALLOWED_CN: "etcd peer #1; it's & | * ? ~ ! % ( ) { } < > = ,",
        },
      }),
    };
    const file = join(dir, "etcd.conf");
    writeFileSync(file, renderEtcdConf(seedNode1Conf(settings)));
    // WHEN sh sources it and parseEnvironmentFile reads it
    const parsed = parseEnvironmentFile(renderEtcdConf(seedNode1Conf(settings)));
    // THEN both see the same ETCD_* variables with the same values
    expect(shEnvironment(file)).toEqual(parsed);
    expect(Object.keys(parsed)).toHaveLength(SEED_KEY_ORDER.length + 9);
  });

  test("the comparison catches a value the two read differently", () => {
    // GIVEN a hand-written file with a $ expansion, which renderEtcdConf would refuse
    const file = join(dir, "dollar.conf");
    writeFileSync(file, 'ETCD_NAME="node-$HOSTNAME-1"\n');
    // WHEN compared THEN sh expands it and systemd would not
    expect(shEnvironment(file)).not.toEqual(parseEnvironmentFile('ETCD_NAME="node-$HOSTNAME-1"\n'));
  });
});
