import { isEnvFileSafe } from "./etcd-conf";
import { refusalReason } from "./etcd-flags";

/**
 * etcd settings beyond what the cluster definition decides. Each one becomes an ETCD_* line in
 * every member's etcd.conf; leave a field out to keep etcd's own default.
 */
export interface EtcdTuning {
  /**
   * Time between the leader's heartbeats, in milliseconds (`ETCD_HEARTBEAT_INTERVAL`).
   * Roughly the round-trip time between members.
   * @default 100 (etcd's default)
   */
  readonly heartbeatIntervalMs?: number;

  /**
   * How long a follower waits without a heartbeat before it calls an election, in milliseconds
   * (`ETCD_ELECTION_TIMEOUT`). At least 5 x `heartbeatIntervalMs` and at most 50000, as etcd requires.
   * @default 1000 (etcd's default)
   */
  readonly electionTimeoutMs?: number;

  /**
   * Size of the backend database, in bytes, at which etcd raises a NOSPACE alarm and only accepts
   * reads and deletes (`ETCD_QUOTA_BACKEND_BYTES`). At most 8 GiB, etcd's suggested maximum.
   * @default 2 GiB (etcd's default)
   */
  readonly quotaBackendBytes?: number;

  /**
   * How `autoCompactionRetention` is read (`ETCD_AUTO_COMPACTION_MODE`): "periodic" keeps a time
   * window of history, "revision" a number of revisions. Needs `autoCompactionRetention`.
   * @default "periodic" (etcd's default)
   */
  readonly autoCompactionMode?: "periodic" | "revision";

  /**
   * History that auto-compaction keeps (`ETCD_AUTO_COMPACTION_RETENTION`): for "periodic" a duration
   * such as "1h" or "30m" (a bare number means hours), for "revision" a number of revisions such as "1000".
   * @default no auto-compaction (etcd's default)
   */
  readonly autoCompactionRetention?: string;

  /**
   * Committed transactions between two snapshots to disk (`ETCD_SNAPSHOT_COUNT`).
   * etcd 3.6 deprecates this flag; it still works there.
   * @default etcd's: 100000 in 3.4 and 3.5, 10000 in 3.6
   */
  readonly snapshotCount?: number;

  /**
   * Extra listeners for /metrics and /health, each `http(s)://host:port` (`ETCD_LISTEN_METRICS_URLS`).
   * Plain http lets a Prometheus scrape without a client certificate; open the port in your security group.
   * @default none: metrics are only served on the client port, behind mTLS
   */
  readonly listenMetricsUrls?: readonly string[];

  /**
   * etcd's log level (`ETCD_LOG_LEVEL`).
   * @default "info" (etcd's default)
   */
  readonly logLevel?: "debug" | "info" | "warn" | "error";

  /**
   * Checks the data for corruption (against the other members' hashes) before the member serves
   * anyone. The setting's name depends on the version etcd installs, and is rendered for it:
   * `ETCD_EXPERIMENTAL_INITIAL_CORRUPT_CHECK` for 3.4 and 3.5, the `InitialCorruptCheck` feature gate
   * (`ETCD_FEATURE_GATES`) from 3.6 on, where the experimental flag is deprecated (removed in 3.7).
   * Needs a release install: a package does not say its version at synth.
   * @default false (etcd's default)
   */
  readonly initialCorruptCheck?: boolean;
  /**
   * Other etcd settings, keyed by environment variable name, e.g. `{ ETCD_MAX_REQUEST_BYTES: "1572864" }`.
   * Names are checked against the flags every etcd from 3.4 to 3.6 has (`EXTRA_SETTING_NAMES`);
   * values are passed as they are and checked by etcd when it starts.
   * @default none
   */
  readonly extraSettings?: Readonly<Record<string, string>>;
}

const DEFAULT_HEARTBEAT_MS = 100;
const DEFAULT_ELECTION_MS = 1000;
const MAX_ELECTION_MS = 50000;
const MAX_QUOTA_BYTES = 8 * 1024 ** 3;
const LOG_LEVELS = ["debug", "info", "warn", "error"];
const COMPACTION_MODES = ["periodic", "revision"];
const GO_DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;
const WHOLE_NUMBER = /^\d+$/;
const METRICS_URL = /^https?:\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;
const RESERVED_PORTS: Record<string, string> = { "2379": "client", "2380": "peer" };

/**
 * The ETCD_* variables a tuning sets: only the fields that were given, each under the name the
 * etcd release it runs on knows (`version`, e.g. "v3.6.14"; undefined: a package's).
 */
export function tuningSettings(tuning: EtcdTuning | undefined, version?: string): Record<string, string> {
  if (!tuning) return {};
  const settings: Record<string, string> = {};
  const set = (name: string, value: string | number | undefined) => {
    if (value !== undefined) settings[name] = String(value);
  };
  set("ETCD_HEARTBEAT_INTERVAL", tuning.heartbeatIntervalMs);
  set("ETCD_ELECTION_TIMEOUT", tuning.electionTimeoutMs);
  set("ETCD_QUOTA_BACKEND_BYTES", tuning.quotaBackendBytes);
  set("ETCD_AUTO_COMPACTION_MODE", tuning.autoCompactionMode);
  set("ETCD_AUTO_COMPACTION_RETENTION", tuning.autoCompactionRetention);
  set("ETCD_SNAPSHOT_COUNT", tuning.snapshotCount);
  set("ETCD_LISTEN_METRICS_URLS", tuning.listenMetricsUrls?.join(","));
  set("ETCD_LOG_LEVEL", tuning.logLevel);
  if (tuning.initialCorruptCheck !== undefined && version !== undefined) {
    if (hasFeatureGates(version)) set("ETCD_FEATURE_GATES", `InitialCorruptCheck=${tuning.initialCorruptCheck}`);
    else set("ETCD_EXPERIMENTAL_INITIAL_CORRUPT_CHECK", String(tuning.initialCorruptCheck));
  }
  return { ...settings, ...tuning.extraSettings };
}

/** etcd 3.6 moved its experimental flags to feature gates (--feature-gates). */
function hasFeatureGates(version: string): boolean {
  const [major, minor] = version.replace(/^v/, "").split(".").map(Number);
  return major > 3 || (major === 3 && minor >= 6);
}

/**
 * Checks a tuning against etcd's own rules (etcd would refuse to start, or silently ignore a
 * setting), so mistakes surface at synth time. Returns one message per problem, each naming
 * the field, the value and the fix.
 */
export function validateTuning(tuning: EtcdTuning | undefined, field = "tuning", version?: string): string[] {
  if (!tuning) return [];
  const errors: string[] = [];
  if (tuning.initialCorruptCheck !== undefined && typeof tuning.initialCorruptCheck !== "boolean") {
    errors.push(`${field}.initialCorruptCheck is ${show(tuning.initialCorruptCheck)} but must be true or false: fix the value`);
  } else if (tuning.initialCorruptCheck !== undefined && version === undefined) {
    errors.push(
      `${field}.initialCorruptCheck is set with a package install, whose etcd version (and so the setting's name: an experimental flag before 3.6, a feature gate from 3.6) is not known at synth: use a release install (install.version) or leave it out`
    );
  }
  const positiveInteger = (name: keyof EtcdTuning, value: number | undefined, unit: string) => {
    if (value === undefined || (Number.isSafeInteger(value) && value > 0)) return true;
    errors.push(
      `${field}.${name} is ${show(value)} but must be a positive whole number of ${unit}: fix the value or leave it out for etcd's default`
    );
    return false;
  };

  const heartbeatOk = positiveInteger("heartbeatIntervalMs", tuning.heartbeatIntervalMs, "milliseconds");
  const electionOk = positiveInteger("electionTimeoutMs", tuning.electionTimeoutMs, "milliseconds");
  if (heartbeatOk && electionOk) checkElection(tuning, field, errors);

  const quota = tuning.quotaBackendBytes;
  if (positiveInteger("quotaBackendBytes", quota, "bytes") && quota !== undefined && quota > MAX_QUOTA_BYTES) {
    errors.push(
      `${field}.quotaBackendBytes is ${quota} but must be at most 8 GiB (${MAX_QUOTA_BYTES}), etcd's suggested maximum: lower it`
    );
  }
  positiveInteger("snapshotCount", tuning.snapshotCount, "transactions");
  checkCompaction(tuning, field, errors);
  checkMetricsUrls(tuning.listenMetricsUrls, field, errors);

  if (tuning.logLevel !== undefined && !LOG_LEVELS.includes(tuning.logLevel)) {
    errors.push(`${field}.logLevel is ${show(tuning.logLevel)} but must be one of ${LOG_LEVELS.map(show).join(", ")}: pick one of those`);
  }
  for (const [name, value] of Object.entries(tuning.extraSettings ?? {})) {
    checkExtraSetting(`${field}.extraSettings.${name}`, name, value, errors);
  }
  return errors;
}

function checkElection(tuning: EtcdTuning, field: string, errors: string[]): void {
  const heartbeat = tuning.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_MS;
  const election = tuning.electionTimeoutMs ?? DEFAULT_ELECTION_MS;
  if (election > MAX_ELECTION_MS) {
    errors.push(`${field}.electionTimeoutMs is ${election} but must be at most ${MAX_ELECTION_MS} (etcd's limit): lower electionTimeoutMs`);
  }
  if (election >= 5 * heartbeat) return;
  if (tuning.electionTimeoutMs !== undefined) {
    errors.push(
      `${field}.electionTimeoutMs is ${election} but must be at least 5 x ${field}.heartbeatIntervalMs (${heartbeat}) = ${
        5 * heartbeat
      }: ` + "raise electionTimeoutMs or lower heartbeatIntervalMs"
    );
  } else {
    errors.push(
      `${field}.heartbeatIntervalMs is ${heartbeat} but etcd's default ${field}.electionTimeoutMs (${election}) must be at least 5 x it = ${
        5 * heartbeat
      }: ` + `set electionTimeoutMs to at least ${5 * heartbeat} or lower heartbeatIntervalMs to at most ${Math.floor(election / 5)}`
    );
  }
}

function checkCompaction(tuning: EtcdTuning, field: string, errors: string[]): void {
  const mode = tuning.autoCompactionMode;
  const retention = tuning.autoCompactionRetention;
  if (mode !== undefined && !COMPACTION_MODES.includes(mode)) {
    errors.push(`${field}.autoCompactionMode is ${show(mode)} but must be "periodic" or "revision": pick one of those`);
    return;
  }
  if (retention === undefined) {
    if (mode !== undefined) {
      errors.push(
        `${field}.autoCompactionMode is ${show(mode)} but ${field}.autoCompactionRetention is not set, so auto-compaction stays off: ` +
          'set autoCompactionRetention (e.g. "1h" or "1000") or leave autoCompactionMode out'
      );
    }
    return;
  }
  const positive = /[1-9]/.test(retention);
  if (mode === "revision") {
    if (!WHOLE_NUMBER.test(retention) || !positive) {
      errors.push(
        `${field}.autoCompactionRetention is ${show(
          retention
        )} but autoCompactionMode "revision" needs a positive number of revisions such as "1000": ` +
          'use a whole number or set autoCompactionMode to "periodic"'
      );
    }
  } else if (!(GO_DURATION.test(retention) || WHOLE_NUMBER.test(retention)) || !positive) {
    errors.push(
      `${field}.autoCompactionRetention is ${show(
        retention
      )} but periodic auto-compaction needs a positive duration such as "1h" or "30m" (a bare number means hours): ` +
        'use a duration, or set autoCompactionMode to "revision" for a number of revisions'
    );
  }
}

function checkMetricsUrls(urls: readonly string[] | undefined, field: string, errors: string[]): void {
  (urls ?? []).forEach((url, index) => {
    const name = `${field}.listenMetricsUrls[${index}]`;
    const match = typeof url === "string" ? METRICS_URL.exec(url) : null;
    const port = match ? Number(match[2]) : 0;
    if (!match || port < 1 || port > 65535) {
      errors.push(`${name} is ${show(url)} but must be http(s)://host:port with no path, e.g. "http://0.0.0.0:2381": fix the URL`);
    } else if (RESERVED_PORTS[match[2]]) {
      errors.push(`${name} is ${show(url)} but port ${match[2]} is etcd's ${RESERVED_PORTS[match[2]]} port: use another port, e.g. 2381`);
    }
  });
}

function checkExtraSetting(name: string, key: string, value: string, errors: string[]): void {
  if (!/^ETCD_[A-Z0-9_]+$/.test(key)) {
    errors.push(
      `${name} is not an etcd environment variable name: use the ETCD_* form of the flag, e.g. ETCD_MAX_REQUEST_BYTES for --max-request-bytes`
    );
    return;
  }
  const reason = refusalReason(key);
  if (reason) {
    errors.push(`${name} (${show(value)}) is refused: ${key} ${reason}. Remove it from extraSettings`);
  } else if (typeof value !== "string" || value === "") {
    errors.push(
      `${name} is ${show(value)} but must be a non-empty string (etcd ignores empty variables): give a value or remove the setting`
    );
  } else if (!isEnvFileSafe(value)) {
    errors.push(
      `${name} is ${show(
        value
      )} but contains " \\ $ \` or a control character, which systemd's EnvironmentFile= and sh read differently: remove those characters`
    );
  }
}

function show(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}
