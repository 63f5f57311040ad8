import { spawnSync } from "child_process";
import { mkdtempSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { EXTRA_SETTING_NAMES, REFUSED_SETTINGS } from "../../lib/etcd/etcd-flags";
import { type EtcdTuning, tuningSettings, validateTuning } from "../../lib/etcd/tuning";
import { requireTool } from "../support/tools";

describe("tuningSettings", () => {
  test("sets nothing when there is no tuning", () => {
    // GIVEN no tuning or an empty one WHEN converted THEN no variable is set
    expect(tuningSettings(undefined)).toEqual({});
    expect(tuningSettings({})).toEqual({});
  });

  test("maps each given field to its ETCD_* variable and nothing else", () => {
    // GIVEN a tuning with every field set
    const tuning: EtcdTuning = {
      heartbeatIntervalMs: 250,
      electionTimeoutMs: 2500,
      quotaBackendBytes: 4294967296,
      autoCompactionMode: "revision",
      autoCompactionRetention: "1000",
      snapshotCount: 10000,
      listenMetricsUrls: ["http://0.0.0.0:2381", "https://10.0.0.5:2382"],
      logLevel: "warn",
      extraSettings: { ETCD_MAX_REQUEST_BYTES: "3145728" },
    };
    // WHEN converted THEN each becomes one variable
    expect(tuningSettings(tuning)).toEqual({
      ETCD_HEARTBEAT_INTERVAL: "250",
      ETCD_ELECTION_TIMEOUT: "2500",
      ETCD_QUOTA_BACKEND_BYTES: "4294967296",
      ETCD_AUTO_COMPACTION_MODE: "revision",
      ETCD_AUTO_COMPACTION_RETENTION: "1000",
      ETCD_SNAPSHOT_COUNT: "10000",
      ETCD_LISTEN_METRICS_URLS: "http://0.0.0.0:2381,https://10.0.0.5:2382",
      ETCD_LOG_LEVEL: "warn",
      ETCD_MAX_REQUEST_BYTES: "3145728",
    });
  });

  test.each([
    ["v3.4.23", { ETCD_EXPERIMENTAL_INITIAL_CORRUPT_CHECK: "true" }],
    ["v3.5.30", { ETCD_EXPERIMENTAL_INITIAL_CORRUPT_CHECK: "true" }],
    ["v3.6.14", { ETCD_FEATURE_GATES: "InitialCorruptCheck=true" }],
  ])("names initialCorruptCheck as etcd %s knows it: an experimental flag before 3.6, a feature gate from 3.6", (version, expected) => {
    expect(tuningSettings({ initialCorruptCheck: true }, version)).toEqual(expected);
  });

  test("leaves unset fields to etcd's defaults", () => {
    // GIVEN only a retention WHEN converted THEN only that variable is set
    expect(tuningSettings({ autoCompactionRetention: "1h" })).toEqual({ ETCD_AUTO_COMPACTION_RETENTION: "1h" });
  });
});

describe("validateTuning", () => {
  test.each<[string, EtcdTuning | undefined]>([
    ["no tuning", undefined],
    ["etcd's defaults spelled out", { heartbeatIntervalMs: 100, electionTimeoutMs: 1000 }],
    ["an election timeout of exactly 5 heartbeats", { heartbeatIntervalMs: 200, electionTimeoutMs: 1000 }],
    ["a heartbeat that fits etcd's default election timeout", { heartbeatIntervalMs: 200 }],
    ["the largest election timeout", { heartbeatIntervalMs: 5000, electionTimeoutMs: 50000 }],
    ["8 GiB of quota", { quotaBackendBytes: 8 * 1024 ** 3 }],
    ["periodic compaction by duration", { autoCompactionMode: "periodic", autoCompactionRetention: "1h30m" }],
    ["periodic compaction in bare hours", { autoCompactionRetention: "12" }],
    ["revision compaction", { autoCompactionMode: "revision", autoCompactionRetention: "1000" }],
    ["metrics URLs", { listenMetricsUrls: ["http://0.0.0.0:2381", "https://[::1]:2382", "http://metrics.internal:9100"] }],
    ["every log level", { logLevel: "debug" }],
    [
      "allowed extra settings",
      {
        extraSettings: {
          ETCD_MAX_REQUEST_BYTES: "1572864",
          ETCD_PRE_VOTE: "true",
          ETCD_CIPHER_SUITES: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        },
      },
    ],
  ])("accepts %s", (_what, tuning) => {
    // GIVEN a tuning etcd accepts WHEN validated THEN there is no error
    expect(validateTuning(tuning)).toEqual([]);
  });

  // [what, tuning, field path, the bad value as shown, a piece of the fix]
  test.each<[string, EtcdTuning, string, string, string]>([
    [
      "an election timeout under 5 heartbeats",
      { electionTimeoutMs: 300 },
      "tuning.electionTimeoutMs",
      "is 300",
      "raise electionTimeoutMs or lower heartbeatIntervalMs",
    ],
    [
      "a heartbeat too long for etcd's default election timeout",
      { heartbeatIntervalMs: 300 },
      "tuning.heartbeatIntervalMs",
      "is 300",
      "set electionTimeoutMs to at least 1500 or lower heartbeatIntervalMs to at most 200",
    ],
    [
      "an election timeout over 50000 ms",
      { heartbeatIntervalMs: 10000, electionTimeoutMs: 60000 },
      "tuning.electionTimeoutMs",
      "is 60000",
      "lower electionTimeoutMs",
    ],
    ["a zero heartbeat", { heartbeatIntervalMs: 0 }, "tuning.heartbeatIntervalMs", "is 0", "positive whole number of milliseconds"],
    ["a fractional heartbeat", { heartbeatIntervalMs: 100.5 }, "tuning.heartbeatIntervalMs", "is 100.5", "positive whole number"],
    ["a negative election timeout", { electionTimeoutMs: -1 }, "tuning.electionTimeoutMs", "is -1", "positive whole number"],
    ["a quota over 8 GiB", { quotaBackendBytes: 9 * 1024 ** 3 }, "tuning.quotaBackendBytes", "is 9663676416", "lower it"],
    ["a zero quota", { quotaBackendBytes: 0 }, "tuning.quotaBackendBytes", "is 0", "leave it out for etcd's default"],
    ["a fractional snapshot count", { snapshotCount: 1.5 }, "tuning.snapshotCount", "is 1.5", "positive whole number of transactions"],
    [
      "a compaction mode without retention",
      { autoCompactionMode: "revision" },
      "tuning.autoCompactionMode",
      'is "revision"',
      "set autoCompactionRetention",
    ],
    [
      "an unknown compaction mode",
      { autoCompactionMode: "hourly" as never, autoCompactionRetention: "1" },
      "tuning.autoCompactionMode",
      'is "hourly"',
      '"periodic" or "revision"',
    ],
    [
      "a duration for revision compaction",
      { autoCompactionMode: "revision", autoCompactionRetention: "1h" },
      "tuning.autoCompactionRetention",
      'is "1h"',
      "use a whole number",
    ],
    [
      "a zero revision retention",
      { autoCompactionMode: "revision", autoCompactionRetention: "0" },
      "tuning.autoCompactionRetention",
      'is "0"',
      "use a whole number",
    ],
    [
      "a malformed periodic retention",
      { autoCompactionRetention: "1 hour" },
      "tuning.autoCompactionRetention",
      'is "1 hour"',
      "use a duration",
    ],
    [
      "a zero periodic retention",
      { autoCompactionMode: "periodic", autoCompactionRetention: "0h" },
      "tuning.autoCompactionRetention",
      'is "0h"',
      "use a duration",
    ],
    [
      "a metrics URL without a port",
      { listenMetricsUrls: ["http://0.0.0.0"] },
      "tuning.listenMetricsUrls[0]",
      'is "http://0.0.0.0"',
      "http(s)://host:port",
    ],
    [
      "a metrics URL with a path",
      { listenMetricsUrls: ["http://0.0.0.0:2381", "http://0.0.0.0:2382/metrics"] },
      "tuning.listenMetricsUrls[1]",
      'is "http://0.0.0.0:2382/metrics"',
      "fix the URL",
    ],
    [
      "a metrics URL that is not http",
      { listenMetricsUrls: ["unix:///run/etcd.sock:1"] },
      "tuning.listenMetricsUrls[0]",
      'is "unix:///run/etcd.sock:1"',
      "http(s)://host:port",
    ],
    [
      "a metrics URL on the client port",
      { listenMetricsUrls: ["http://0.0.0.0:2379"] },
      "tuning.listenMetricsUrls[0]",
      "etcd's client port",
      "use another port",
    ],
    ["an unknown log level", { logLevel: "verbose" as never }, "tuning.logLevel", 'is "verbose"', "pick one of those"],
    [
      "auto TLS for clients",
      { extraSettings: { ETCD_AUTO_TLS: "true" } },
      "tuning.extraSettings.ETCD_AUTO_TLS",
      '("true")',
      "self-signed certificate",
    ],
    [
      "auto TLS for peers",
      { extraSettings: { ETCD_PEER_AUTO_TLS: "true" } },
      "tuning.extraSettings.ETCD_PEER_AUTO_TLS",
      '("true")',
      "Remove it from extraSettings",
    ],
    [
      "a key the renderer sets",
      { extraSettings: { ETCD_INITIAL_CLUSTER_STATE: "existing" } },
      "tuning.extraSettings.ETCD_INITIAL_CLUSTER_STATE",
      '("existing")',
      "set by this library",
    ],
    [
      "a setting that has its own field",
      { extraSettings: { ETCD_HEARTBEAT_INTERVAL: "100" } },
      "tuning.extraSettings.ETCD_HEARTBEAT_INTERVAL",
      '("100")',
      "use tuning.heartbeatIntervalMs",
    ],
    [
      "a v2 flag removed in 3.6",
      { extraSettings: { ETCD_ENABLE_V2: "true" } },
      "tuning.extraSettings.ETCD_ENABLE_V2",
      '("true")',
      "removed in etcd 3.6",
    ],
    ["a v2 proxy flag", { extraSettings: { ETCD_PROXY: "on" } }, "tuning.extraSettings.ETCD_PROXY", '("on")', "removed in etcd 3.6"],
    [
      "an experimental flag",
      { extraSettings: { ETCD_EXPERIMENTAL_INITIAL_CORRUPT_CHECK: "true" } },
      "tuning.extraSettings.ETCD_EXPERIMENTAL_INITIAL_CORRUPT_CHECK",
      '("true")',
      "removed in 3.7",
    ],
    [
      "discovery",
      { extraSettings: { ETCD_DISCOVERY_SRV: "example.com" } },
      "tuning.extraSettings.ETCD_DISCOVERY_SRV",
      '("example.com")',
      "bootstrap statically",
    ],
    [
      "a config file",
      { extraSettings: { ETCD_CONFIG_FILE: "/etc/etcd/etcd.yml" } },
      "tuning.extraSettings.ETCD_CONFIG_FILE",
      '("/etc/etcd/etcd.yml")',
      "ignore every ETCD_* variable",
    ],
    [
      "force-new-cluster",
      { extraSettings: { ETCD_FORCE_NEW_CLUSTER: "true" } },
      "tuning.extraSettings.ETCD_FORCE_NEW_CLUSTER",
      '("true")',
      "every restart",
    ],
    [
      "a flag added in a 3.4 patch release",
      { extraSettings: { ETCD_MAX_CONCURRENT_STREAMS: "100" } },
      "tuning.extraSettings.ETCD_MAX_CONCURRENT_STREAMS",
      '("100")',
      "3.4.20",
    ],
    [
      "a 3.6-only flag",
      { extraSettings: { ETCD_FEATURE_GATES: "InitialCorruptCheck=true" } },
      "tuning.extraSettings.ETCD_FEATURE_GATES",
      '("InitialCorruptCheck=true")',
      "allowed: ETCD_AUTH_TOKEN",
    ],
    ["a typo", { extraSettings: { ETCD_MAX_REQUEST_BYTE: "1" } }, "tuning.extraSettings.ETCD_MAX_REQUEST_BYTE", '("1")', "allowed: "],
    [
      "a flag name instead of a variable name",
      { extraSettings: { "max-request-bytes": "1" } },
      "tuning.extraSettings.max-request-bytes",
      "not an etcd environment variable name",
      "ETCD_MAX_REQUEST_BYTES for --max-request-bytes",
    ],
    [
      "an empty value",
      { extraSettings: { ETCD_MAX_TXN_OPS: "" } },
      "tuning.extraSettings.ETCD_MAX_TXN_OPS",
      'is ""',
      "give a value or remove the setting",
    ],
    [
      "a value with a $",
      { extraSettings: { ETCD_LOG_OUTPUTS: "$LOGS" } },
      "tuning.extraSettings.ETCD_LOG_OUTPUTS",
      'is "$LOGS"',
      "remove those characters",
    ],
    [
      "a value with a newline",
      { extraSettings: { ETCD_LOG_OUTPUTS: "stderr\nETCD_NAME=x" } },
      "tuning.extraSettings.ETCD_LOG_OUTPUTS",
      'is "stderr\\nETCD_NAME=x"',
      "remove those characters",
    ],
  ])("reports %s with field, value and fix", (_what, tuning, field, value, fix) => {
    // GIVEN a tuning etcd would refuse or silently ignore
    // WHEN validated
    const errors = validateTuning(tuning);
    // THEN one message names the field path, the bad value and the fix
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(field);
    expect(errors[0]).toContain(value);
    expect(errors[0]).toContain(fix);
  });

  test("words the 5 x heartbeat rule as etcd users know it", () => {
    // GIVEN a 300 ms election timeout with the default heartbeat WHEN validated THEN the message spells out the rule
    expect(validateTuning({ electionTimeoutMs: 300 })).toEqual([
      "tuning.electionTimeoutMs is 300 but must be at least 5 x tuning.heartbeatIntervalMs (100) = 500: raise electionTimeoutMs or lower heartbeatIntervalMs",
    ]);
  });

  test("prefixes messages with the given field path and reports every problem", () => {
    // GIVEN several problems at once, validated under another prop name
    const errors = validateTuning(
      { heartbeatIntervalMs: -5, logLevel: "loud" as never, extraSettings: { ETCD_NAME: "x" } },
      "props.tuning"
    );
    // THEN each is reported under that path
    expect(errors).toHaveLength(3);
    for (const error of errors) expect(error.startsWith("props.tuning.")).toBe(true);
  });
});

describe("the extraSettings allow-list against the etcd on this machine", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "etcd-flags-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Whether `etcd` defines --flag. `--version` makes it exit right after parsing the command line. */
  const definesFlag = (flag: string): boolean => {
    const etcd = requireTool("etcd", "etcd-server");
    const result = spawnSync(etcd, [`--${flag}=x`, "--version"], { cwd: dir, encoding: "utf8", timeout: 10000 });
    return !`${result.stdout}${result.stderr}`.includes("flag provided but not defined");
  };
  const flagOf = (name: string) =>
    name
      .replace(/^ETCD_/, "")
      .toLowerCase()
      .replace(/_/g, "-");

  test("etcd 3.4 defines every allowed setting", () => {
    // GIVEN the local etcd, a 3.4 release
    const version = spawnSync(requireTool("etcd", "etcd-server"), ["--version"], { encoding: "utf8" }).stdout;
    expect(version).toMatch(/etcd Version: 3\.4\./);
    // WHEN each allowed name is passed as a flag THEN etcd knows it
    expect(EXTRA_SETTING_NAMES.filter((name) => !definesFlag(flagOf(name)))).toEqual([]);
  });

  test("the check tells a missing flag from a defined one", () => {
    // GIVEN a flag that does not exist and one only etcd 3.5+ has
    // THEN both are reported as missing, so the test above can fail
    expect(definesFlag("no-such-flag")).toBe(false);
    expect(definesFlag("log-format")).toBe(false);
  });

  test("the refused v2 and 3.4-only flags are real etcd 3.4 flags, refused for their reason", () => {
    // GIVEN flags etcd 3.4 has but not every 3.4-3.6 release THEN they are refused by name, not as unknown
    const v34Only = ["ETCD_ENABLE_V2", "ETCD_PROXY", "ETCD_DEBUG", "ETCD_LOG_PACKAGE_LEVELS", "ETCD_MAX_CONCURRENT_STREAMS"];
    for (const name of v34Only) expect(REFUSED_SETTINGS[name]).toBeDefined();
    expect(v34Only.filter((name) => !definesFlag(flagOf(name)))).toEqual([]);
  });
});
