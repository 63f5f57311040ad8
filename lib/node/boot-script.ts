import type { InstallPlan } from "../etcd/releases";

export interface BootScriptInput {
  readonly install: InstallPlan;
  /** Parent of the member's data directory; created for `user` with mode 0700. */
  readonly dataDir: string;
  readonly user: string;
  /** Used for the local mTLS health check; the member certificate is also a client certificate. */
  readonly tls: { readonly certFile: string; readonly keyFile: string; readonly trustedCaFile: string };
  readonly healthTimeoutSeconds: number;
}

/**
 * The script cloud-init runs once as root: install etcd, prepare the data directory, start the
 * service, and wait until the member answers /health. Settings are plain variables at the top and
 * each step is a function called from `main`, so a test can source everything but the last line
 * and run one step with, say, another BIN_DIR. It never writes `${` or `%{`: the user data is a
 * Terraform string, where those start an interpolation.
 */
export function renderBootScript(input: BootScriptInput): string {
  if (!Number.isSafeInteger(input.healthTimeoutSeconds) || input.healthTimeoutSeconds <= 0) {
    throw new Error(`boot script: healthTimeoutSeconds is ${input.healthTimeoutSeconds} but must be a positive whole number`);
  }
  const { install } = input;
  const source =
    install.source === "release"
      ? [
          `ETCD_URL=${shQuote(install.url)}`,
          `ETCD_SHA256=${shQuote(install.sha256)}`,
          `ETCD_TOP_DIR=${shQuote(`etcd-${install.version}-linux-${install.arch}`)}`,
        ]
      : [`ETCD_PACKAGE=${shQuote(install.packageName)}`];

  return `#!/bin/sh
# Installs and starts this etcd member. Run once by cloud-init, as root.
set -eu

${source.join("\n")}
BIN_DIR=${shQuote(install.binDir)}
DATA_DIR=${shQuote(input.dataDir)}
ETCD_USER=${shQuote(input.user)}
CA_FILE=${shQuote(input.tls.trustedCaFile)}
CERT_FILE=${shQuote(input.tls.certFile)}
KEY_FILE=${shQuote(input.tls.keyFile)}
HEALTH_TIMEOUT=${input.healthTimeoutSeconds}

log() { echo "etcd-bootstrap: $*"; }
fail() { log "$*" >&2; exit 1; }

${install.source === "release" ? INSTALL_RELEASE : INSTALL_PACKAGE}
prepare_data_dir() {
  mkdir -p "$DATA_DIR"
  chown "$ETCD_USER:" "$DATA_DIR"
  chmod 0700 "$DATA_DIR"
}

start_etcd() {
  systemctl daemon-reload
  systemctl enable etcd
  # --no-block: a member of a new cluster stays "activating" until a quorum is up.
  systemctl restart --no-block etcd
}

wait_healthy() {
  deadline=$(($(date +%s) + HEALTH_TIMEOUT))
  until curl -fsS -m 5 --cacert "$CA_FILE" --cert "$CERT_FILE" --key "$KEY_FILE" \\
    https://127.0.0.1:2379/health 2>/dev/null | grep -q '"health":"true"'; do
    left=$((deadline - $(date +%s)))
    if [ "$left" -le 0 ]; then
      journalctl -u etcd --no-pager -n 50 >&2 || true
      fail "etcd not healthy after $HEALTH_TIMEOUT seconds, see its log above"
    fi
    log "waiting for etcd to report healthy ($left seconds left)"
    sleep 5
  done
  log "etcd is healthy"
}

main() {
  install_etcd
  prepare_data_dir
  start_etcd
  wait_healthy
}

main "$@"
`;
}

const INSTALL_RELEASE = `install_etcd() {
  work=$(mktemp -d)
  log "downloading $ETCD_URL"
  curl -fsSL --retry 5 --retry-delay 3 --retry-connrefused -o "$work/etcd.tgz" "$ETCD_URL"
  # Verified before tar reads a byte of it.
  if ! echo "$ETCD_SHA256  $work/etcd.tgz" | sha256sum -c --quiet -; then
    rm -rf "$work"
    fail "SHA-256 mismatch for $ETCD_URL (expected $ETCD_SHA256); not installing"
  fi
  tar -xzf "$work/etcd.tgz" -C "$work"
  cd "$work/$ETCD_TOP_DIR"
  install -m 0755 etcd etcdctl "$BIN_DIR/"
  # etcdutl ships from etcd 3.5 on.
  if [ -f etcdutl ]; then install -m 0755 etcdutl "$BIN_DIR/"; fi
  cd /
  rm -rf "$work"
}
`;

const INSTALL_PACKAGE = `install_etcd() {
  log "installing package $ETCD_PACKAGE"
  if command -v dnf >/dev/null; then
    dnf install -y "$ETCD_PACKAGE"
  elif command -v yum >/dev/null; then
    yum install -y "$ETCD_PACKAGE"
  elif command -v apt-get >/dev/null; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y "$ETCD_PACKAGE"
  else
    fail "found no dnf, yum or apt-get to install $ETCD_PACKAGE"
  fi
  [ -x "$BIN_DIR/etcd" ] || fail "package $ETCD_PACKAGE did not install $BIN_DIR/etcd"
  # The package may have started etcd with its own defaults; start_etcd restarts it with etcd.conf.
  systemctl stop etcd 2>/dev/null || true
}
`;

/** Single-quotes a value for sh: nothing inside is expanded. */
function shQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
