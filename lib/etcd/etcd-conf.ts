/** Everything one member's /etc/etcd/etcd.conf says. */
export interface EtcdConfInput {
  readonly name: string;
  /** The member's data directory, `/var/lib/etcd/<name>.etcd` as in the seed. */
  readonly dataDir: string;
  readonly listenPeerUrls: readonly string[];
  /** The member's client URL plus https://127.0.0.1:2379; duplicates are dropped. */
  readonly listenClientUrls: readonly string[];
  readonly initialAdvertisePeerUrls: readonly string[];
  readonly advertiseClientUrls: readonly string[];
  readonly initialCluster: readonly { readonly name: string; readonly peerUrl: string }[];
  readonly initialClusterState: "new" | "existing";
  readonly initialClusterToken: string;
  /** One certificate, key and CA for both the client and the peer listener. */
  readonly tls: { readonly certFile: string; readonly keyFile: string; readonly trustedCaFile: string };
  /** Further ETCD_* settings (from `tuningSettings`), already validated. */
  readonly settings: Readonly<Record<string, string>>;
}

const HEADER = "# Generated etcd member configuration, read alike by systemd (EnvironmentFile=) and sh.";

/**
 * Characters that systemd's EnvironmentFile= parser and sh read differently inside double quotes:
 * `\` escapes, `$` and backtick expand in sh only, `"` ends the value, and a newline ends the line.
 * Other control characters are refused too, so every value is one visible line.
 */
const AMBIGUOUS = /["\\$`\u0000-\u001f\u007f]/;
const ENV_NAME = /^ETCD_[A-Z0-9_]+$/;

/** Whether a value means the same to systemd's EnvironmentFile= and to sh inside double quotes. */
export function isEnvFileSafe(value: string): boolean {
  return !AMBIGUOUS.test(value);
}

/**
 * Renders etcd.conf: the seed's keys in the seed's order, then `settings` sorted by name.
 * Every line is `KEY="value"`; unlike the seed there are no inline comments (systemd would
 * keep them in the value) and no ETCD_AUTO_TLS / ETCD_PEER_AUTO_TLS (real certificates are used).
 */
export function renderEtcdConf(input: EtcdConfInput): string {
  const core: [string, string][] = [
    ["ETCD_NAME", input.name],
    ["ETCD_DATA_DIR", input.dataDir],
    ["ETCD_LISTEN_PEER_URLS", joinUnique(input.listenPeerUrls)],
    ["ETCD_LISTEN_CLIENT_URLS", joinUnique(input.listenClientUrls)],
    ["ETCD_INITIAL_ADVERTISE_PEER_URLS", joinUnique(input.initialAdvertisePeerUrls)],
    ["ETCD_INITIAL_CLUSTER", input.initialCluster.map((m) => `${m.name}=${m.peerUrl}`).join(",")],
    ["ETCD_INITIAL_CLUSTER_STATE", input.initialClusterState],
    ["ETCD_INITIAL_CLUSTER_TOKEN", input.initialClusterToken],
    ["ETCD_ADVERTISE_CLIENT_URLS", joinUnique(input.advertiseClientUrls)],
    ["ETCD_CERT_FILE", input.tls.certFile],
    ["ETCD_KEY_FILE", input.tls.keyFile],
    ["ETCD_CLIENT_CERT_AUTH", "true"],
    ["ETCD_TRUSTED_CA_FILE", input.tls.trustedCaFile],
    ["ETCD_PEER_CERT_FILE", input.tls.certFile],
    ["ETCD_PEER_KEY_FILE", input.tls.keyFile],
    ["ETCD_PEER_CLIENT_CERT_AUTH", "true"],
    ["ETCD_PEER_TRUSTED_CA_FILE", input.tls.trustedCaFile],
  ];
  const coreKeys = new Set(core.map(([key]) => key));
  const extra = Object.keys(input.settings)
    .sort()
    .map((key): [string, string] => {
      if (!ENV_NAME.test(key)) throw new Error(`etcd.conf: setting name ${JSON.stringify(key)} is not an ETCD_* variable name`);
      if (coreKeys.has(key)) throw new Error(`etcd.conf: setting ${key} would override the value this library sets`);
      return [key, input.settings[key]];
    });

  const lines = [...core, ...extra].map(([key, value]) => {
    if (value === "") throw new Error(`etcd.conf: ${key} is empty; etcd ignores empty variables`);
    if (!isEnvFileSafe(value)) {
      throw new Error(
        `etcd.conf: ${key} is ${JSON.stringify(value)}, which contains a character (" \\ $ \` or a control character) ` +
          "that systemd's EnvironmentFile= and sh read differently"
      );
    }
    return `${key}="${value}"`;
  });
  return [HEADER, ...lines].join("\n") + "\n";
}

/**
 * Reads an environment file the way systemd's EnvironmentFile= does, for the forms
 * renderEtcdConf writes plus plain unquoted and single-quoted values. Anything else
 * (escapes, inline comments, continuation lines) throws rather than being guessed at.
 */
export function parseEnvironmentFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  text.split("\n").forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) return;
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(?:"([^"\\]*)"|'([^']*)'|([^\s"'\\]*))$/.exec(line);
    if (!match) throw new Error(`environment file line ${index + 1} is not KEY="value": ${JSON.stringify(raw)}`);
    env[match[1]] = match[2] ?? match[3] ?? match[4];
  });
  return env;
}

function joinUnique(values: readonly string[]): string {
  return [...new Set(values)].join(",");
}
