import type { InstallPlan } from "../etcd/releases";
import { MOUNT_DATA_VOLUME_FUNCTION } from "./data-volume-script";
import { INSTANCE_REGION_FUNCTION } from "./instance-region";
import { shQuote } from "../shell-quote";

export interface BootScriptInput {
  readonly install: InstallPlan;
  /** Parent of the member's data directory; created for `user` with mode 0700. */
  readonly dataDir: string;
  readonly user: string;
  /**
   * The member's etcd.conf, which is valid shell: main sources it, so the TLS paths the health
   * check and fetch_key use (ETCD_TRUSTED_CA_FILE, ETCD_CERT_FILE, ETCD_KEY_FILE) are etcd's own.
   */
  readonly confFile: string;
  readonly healthTimeoutSeconds: number;
  /**
   * SSM SecureString parameter that holds the member's private key. When set, `fetch_key` writes
   * it to tls.keyFile before etcd starts; when not, the key must already be there (user data).
   */
  readonly keyParameter?: string;
  /**
   * A command that fills the data directory from a snapshot before etcd's first start
   * (`restoreFrom`); the boot stops if it fails, and etcd never starts empty in its place.
   */
  readonly restoreCommand?: string;
  /**
   * The settings file (see renderDataVolumeSettings) of the member's EBS volume, mounted at
   * `dataDir` before anything is written there. Undefined: the data directory is on the root volume.
   */
  readonly dataVolumeSettings?: string;
}

/**
 * The script cloud-init runs once as root: install etcd, prepare the data directory, fetch the
 * private key from SSM (only with a keyParameter), start the service, and wait until the member
 * answers /health. Settings are plain variables at the top and each step is a function called
 * from `main`, so a test can source everything but the last line and run one step with, say,
 * another BIN_DIR. It never writes `${` or `%{`: the user data is a Terraform string, where those
 * start an interpolation.
 */
export function renderBootScript(input: BootScriptInput): string {
  const { install, keyParameter, restoreCommand, dataVolumeSettings } = input;
  const source =
    install.source === "release"
      ? [`ETCD_URL=${shQuote(install.url)}`, `ETCD_SHA256=${shQuote(install.sha256)}`]
      : [`ETCD_PACKAGE=${shQuote(install.packageName)}`];

  return `#!/bin/sh
# Installs and starts this etcd member. Run once by cloud-init, as root.
set -eu

${source.join("\n")}
BIN_DIR=${shQuote(install.binDir)}
DATA_DIR=${shQuote(input.dataDir)}
ETCD_USER=${shQuote(input.user)}
ETCD_CONF=${shQuote(input.confFile)}
HEALTH_TIMEOUT=${input.healthTimeoutSeconds}
${keyParameter === undefined ? "" : `KEY_PARAMETER=${shQuote(keyParameter)}\nKEY_TIMEOUT=300\nKEY_INTERVAL=5\n`}
log() { echo "etcd-bootstrap: $*"; }
fail() { log "$*" >&2; exit 1; }

${install.source === "release" ? INSTALL_RELEASE : INSTALL_PACKAGE}${
    dataVolumeSettings === undefined ? "" : `\n${MOUNT_DATA_VOLUME_FUNCTION}`
  }
prepare_data_dir() {
  mkdir -p "$DATA_DIR"
  chown "$ETCD_USER:" "$DATA_DIR"
  chmod 0700 "$DATA_DIR"
}
${keyParameter === undefined ? "" : FETCH_KEY}
start_etcd() {
  systemctl daemon-reload
  systemctl enable etcd
  # --no-block: a member of a new cluster stays "activating" until a quorum is up.
  systemctl restart --no-block etcd
}

wait_healthy() {
  deadline=$(($(date +%s) + HEALTH_TIMEOUT))
  until curl -fsS -m 5 --cacert "$ETCD_TRUSTED_CA_FILE" --cert "$ETCD_CERT_FILE" --key "$ETCD_KEY_FILE" \\
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
  . "$ETCD_CONF"
  install_etcd
${dataVolumeSettings === undefined ? "" : `  mount_data_volume ${shQuote(dataVolumeSettings)}\n`}  prepare_data_dir
${keyParameter === undefined ? "" : "  fetch_key\n"}${restoreCommand === undefined ? "" : restoreStep(restoreCommand)}  start_etcd
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
  cd "$work/$(basename "$ETCD_URL" .tar.gz)"
  install -m 0755 etcd etcdctl "$BIN_DIR/"
  # etcdutl ships from etcd 3.5 on.
  if [ -f etcdutl ]; then install -m 0755 etcdutl "$BIN_DIR/"; fi
  cd /
  rm -rf "$work"
}
`;

// A data volume that already holds a member's data (its VM was replaced) is restored from nothing:
// etcd starts on what is there, as the member it was.
function restoreStep(command: string): string {
  return `  if [ -d "$ETCD_DATA_DIR/member" ]; then
    log "$ETCD_DATA_DIR holds a member already: not restoring over it"
  else
    ${shQuote(command)} || fail "the restore failed (see above): etcd is not started"
  fi
`;
}

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

// Why it is written this way (the comments live here, not in the script: every byte of it counts
// against EC2's 16 KB of user data):
// - fetch_key is a subshell, so its umask 077 and its EXIT trap (which removes the temp file on
//   every way out) end with it.
// - A new instance profile's credentials and IAM policy take seconds to a minute to work, so a
//   refusal is retried until KEY_TIMEOUT, logging the CLI's last error line each time.
// - AWS_PAGER is emptied: the CLI's default pager (less) may be missing and nothing reads a page.
// - The key goes from the CLI's stdout straight into a 0600 temp file next to the key, renamed over
//   it once it looks like a PEM private key and belongs to etcd: it is never in a shell variable,
//   a log line or a partially written key file. "PRIVATE.KEY": the user data never holds the text
//   a leak check looks for.
const FETCH_KEY = `
${INSTANCE_REGION_FUNCTION}
fetch_key() (
  umask 077
  REGION=$(instance_region) || fail "no region from IMDS"
  tmp=$(mktemp "$ETCD_KEY_FILE.XXXXXX")
  trap 'rm -f "$tmp"' EXIT
  deadline=$(($(date +%s) + KEY_TIMEOUT))
  until err=$(AWS_PAGER= aws ssm get-parameter --region "$REGION" --name "$KEY_PARAMETER" --with-decryption \\
    --query Parameter.Value --output text --cli-connect-timeout 10 2>&1 >"$tmp"); do
    left=$((deadline - $(date +%s)))
    [ "$left" -gt 0 ] || fail "cannot read SSM parameter $KEY_PARAMETER: $err"
    log "no key yet, $left s left: $(echo "$err" | tail -n 1)"
    sleep "$KEY_INTERVAL"
  done
  grep -q '^-----BEGIN .*PRIVATE.KEY-----$' "$tmp" && grep -q '^-----END .*PRIVATE.KEY-----$' "$tmp" ||
    fail "$KEY_PARAMETER holds no PEM private key"
  chown "$ETCD_USER:$ETCD_USER" "$tmp"
  mv -f "$tmp" "$ETCD_KEY_FILE"
  log "wrote $ETCD_KEY_FILE"
)
`;
