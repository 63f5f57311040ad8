/**
 * Which ETCD_* variables `tuning.extraSettings` may set. etcd only logs a warning for an
 * ETCD_* variable it does not know and starts anyway, so a typo would go unnoticed.
 *
 * Allowed: flags that etcd 3.4.0, 3.5.0 and 3.6 all define, from `etcd --help` of 3.4.23,
 * 3.5's server/etcdmain/help.go and 3.6's server/embed/config.go (Config.AddFlags) and
 * server/etcdmain/config.go. Flags a later patch release added (max-concurrent-streams in
 * 3.4.20/3.5.5, auth-token-ttl in 3.4.10) are not in every 3.4 and 3.5, so they are left out.
 */
export const EXTRA_SETTING_NAMES: readonly string[] = [
  "ETCD_AUTH_TOKEN",
  "ETCD_BACKEND_BATCH_INTERVAL",
  "ETCD_BACKEND_BATCH_LIMIT",
  "ETCD_BCRYPT_COST",
  "ETCD_CIPHER_SUITES",
  "ETCD_CLIENT_CERT_ALLOWED_HOSTNAME",
  "ETCD_CLIENT_CRL_FILE",
  "ETCD_CORS",
  "ETCD_ENABLE_GRPC_GATEWAY",
  "ETCD_ENABLE_PPROF",
  "ETCD_GRPC_KEEPALIVE_INTERVAL",
  "ETCD_GRPC_KEEPALIVE_MIN_TIME",
  "ETCD_GRPC_KEEPALIVE_TIMEOUT",
  "ETCD_HOST_WHITELIST",
  "ETCD_INITIAL_ELECTION_TICK_ADVANCE",
  "ETCD_LOGGER",
  "ETCD_LOG_OUTPUTS",
  "ETCD_MAX_REQUEST_BYTES",
  "ETCD_MAX_SNAPSHOTS",
  "ETCD_MAX_TXN_OPS",
  "ETCD_MAX_WALS",
  "ETCD_METRICS",
  "ETCD_PEER_CERT_ALLOWED_CN",
  "ETCD_PEER_CERT_ALLOWED_HOSTNAME",
  "ETCD_PEER_CRL_FILE",
  "ETCD_PRE_VOTE",
  "ETCD_STRICT_RECONFIG_CHECK",
  "ETCD_WAL_DIR",
];

const SET_BY_LIBRARY = "is set by this library from the cluster definition (members, PKI, install)";
const REMOVED_IN_36 = "was removed in etcd 3.6 with the v2 API and v2 proxy";
const DISCOVERY = "is a discovery bootstrap flag; members bootstrap statically from ETCD_INITIAL_CLUSTER and etcd refuses both";

/** Real etcd flags that extraSettings refuses, with the reason. */
export const REFUSED_SETTINGS: Readonly<Record<string, string>> = {
  ETCD_NAME: SET_BY_LIBRARY,
  ETCD_DATA_DIR: SET_BY_LIBRARY,
  ETCD_LISTEN_PEER_URLS: SET_BY_LIBRARY,
  ETCD_LISTEN_CLIENT_URLS: SET_BY_LIBRARY,
  ETCD_INITIAL_ADVERTISE_PEER_URLS: SET_BY_LIBRARY,
  ETCD_INITIAL_CLUSTER: SET_BY_LIBRARY,
  ETCD_INITIAL_CLUSTER_STATE: SET_BY_LIBRARY,
  ETCD_INITIAL_CLUSTER_TOKEN: `${SET_BY_LIBRARY}; use the initialClusterToken prop`,
  ETCD_ADVERTISE_CLIENT_URLS: SET_BY_LIBRARY,
  ETCD_CERT_FILE: SET_BY_LIBRARY,
  ETCD_KEY_FILE: SET_BY_LIBRARY,
  ETCD_CLIENT_CERT_AUTH: SET_BY_LIBRARY,
  ETCD_TRUSTED_CA_FILE: SET_BY_LIBRARY,
  ETCD_PEER_CERT_FILE: SET_BY_LIBRARY,
  ETCD_PEER_KEY_FILE: SET_BY_LIBRARY,
  ETCD_PEER_CLIENT_CERT_AUTH: SET_BY_LIBRARY,
  ETCD_PEER_TRUSTED_CA_FILE: SET_BY_LIBRARY,
  ETCD_AUTO_TLS: "would make etcd serve clients with a self-signed certificate instead of the cluster's PKI",
  ETCD_PEER_AUTO_TLS: "would make members talk to each other with self-signed certificates instead of the cluster's PKI",
  ETCD_HEARTBEAT_INTERVAL: "has its own checked field: use tuning.heartbeatIntervalMs",
  ETCD_ELECTION_TIMEOUT: "has its own checked field: use tuning.electionTimeoutMs",
  ETCD_QUOTA_BACKEND_BYTES: "has its own checked field: use tuning.quotaBackendBytes",
  ETCD_AUTO_COMPACTION_MODE: "has its own checked field: use tuning.autoCompactionMode",
  ETCD_AUTO_COMPACTION_RETENTION: "has its own checked field: use tuning.autoCompactionRetention",
  ETCD_SNAPSHOT_COUNT: "has its own checked field: use tuning.snapshotCount",
  ETCD_LISTEN_METRICS_URLS: "has its own checked field: use tuning.listenMetricsUrls",
  ETCD_LOG_LEVEL: "has its own checked field: use tuning.logLevel",
  ETCD_DEBUG: 'was removed in etcd 3.5: use tuning.logLevel "debug"',
  ETCD_LOG_PACKAGE_LEVELS: "was removed in etcd 3.5 with the capnslog logger: use tuning.logLevel",
  ETCD_ENABLE_V2: REMOVED_IN_36,
  ETCD_EXPERIMENTAL_ENABLE_V2V3: REMOVED_IN_36,
  ETCD_PROXY: REMOVED_IN_36,
  ETCD_PROXY_FAILURE_WAIT: REMOVED_IN_36,
  ETCD_PROXY_REFRESH_INTERVAL: REMOVED_IN_36,
  ETCD_PROXY_DIAL_TIMEOUT: REMOVED_IN_36,
  ETCD_PROXY_WRITE_TIMEOUT: REMOVED_IN_36,
  ETCD_PROXY_READ_TIMEOUT: REMOVED_IN_36,
  ETCD_DISCOVERY: DISCOVERY,
  ETCD_DISCOVERY_FALLBACK: DISCOVERY,
  ETCD_DISCOVERY_PROXY: DISCOVERY,
  ETCD_DISCOVERY_SRV: DISCOVERY,
  ETCD_DISCOVERY_SRV_NAME: DISCOVERY,
  ETCD_CONFIG_FILE: "would make etcd ignore every ETCD_* variable, including the ones this library sets",
  ETCD_FORCE_NEW_CLUSTER: "would reset the cluster to one member at every restart of the service (disaster recovery is a manual step)",
  ETCD_UNSAFE_NO_FSYNC: "disables fsync: a power loss can lose acknowledged writes",
  ETCD_MAX_CONCURRENT_STREAMS: "only exists from etcd 3.4.20 and 3.5.5 on, not in every 3.4 to 3.6 release",
  ETCD_AUTH_TOKEN_TTL: "only exists from etcd 3.4.10 on, not in every 3.4 to 3.6 release",
};

/** Why an ETCD_* name is refused, or undefined when extraSettings may set it. */
export function refusalReason(name: string): string | undefined {
  if (EXTRA_SETTING_NAMES.includes(name)) return undefined;
  const reason = REFUSED_SETTINGS[name];
  if (reason) return reason;
  if (name.startsWith("ETCD_EXPERIMENTAL_")) {
    return "is an experimental flag: experimental flags were renamed or deprecated between etcd 3.4 and 3.6 and are removed in 3.7";
  }
  return `is not an etcd flag that every etcd from 3.4 to 3.6 accepts (allowed: ${EXTRA_SETTING_NAMES.join(", ")})`;
}
