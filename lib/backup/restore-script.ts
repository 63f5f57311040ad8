import { shQuote } from "../shell-quote";
import { INSTANCE_REGION_FUNCTION } from "../host/instance-region";
import type { BackupTarget } from "./backup-script";

export interface RestoreScriptInput {
  /** The snapshot to restore: `s3://bucket/key.snapshot.db.gz`; its metadata is the `.json` beside it. */
  readonly snapshotUri: string;
  /** The snapshot bucket's region; empty: the instance's own, from IMDSv2. */
  readonly region: string;
  readonly endpointUrls?: BackupTarget["endpointUrls"];
  /** The etcd minor version this member runs ("3.4", "3.5", "3.6"): what it can restore. Empty: asked of `etcd --version`. */
  readonly etcdMinor: string;
  readonly binDir: string;
  readonly memberName: string;
  readonly peerUrl: string;
  /** name=peerURL,... of every bootstrap member of the new cluster. */
  readonly initialCluster: string;
  /** The new cluster's token: never the old one, so no member of the old cluster can join it. */
  readonly clusterToken: string;
  /** The member's data directory; the restore refuses to write over one that exists. */
  readonly dataDir: string;
  readonly user: string;
}

// Far above any revision a client could have seen, so every watcher of the old cluster sees its
// revision go forward, never back; --mark-compacted then makes them re-list.
const BUMP_REVISION = 1_000_000_000;

/**
 * The member's restore command (installed as /usr/local/sbin/etcd-restore), which the boot script
 * runs before etcd's first start when the cluster is deployed with `restoreFrom`: it downloads the
 * snapshot and its metadata, checks the SHA-256, that this etcd can restore that version (the same
 * minor or the one before), and the snapshot's own integrity (`snapshot status`), then runs
 * `snapshot restore` into the data directory with the new initial cluster and token, with
 * --bump-revision and --mark-compacted where the version has them (etcdutl, 3.5 and later).
 * Every bootstrap member restores the same snapshot. It never writes `${` or `%{` (user data).
 */
export function renderRestoreScript(input: RestoreScriptInput): string {
  return `#!/bin/sh
# Restores this etcd member's data directory from a snapshot, before etcd's first start. Run as root.
set -eu

SNAPSHOT_URI=${shQuote(input.snapshotUri)}
REGION=${shQuote(input.region)}
S3_ENDPOINT_URL=${shQuote(input.endpointUrls?.s3 ?? "")}
ETCD_MINOR=${shQuote(input.etcdMinor)}
BIN_DIR=${shQuote(input.binDir)}
MEMBER=${shQuote(input.memberName)}
PEER_URL=${shQuote(input.peerUrl)}
INITIAL_CLUSTER=${shQuote(input.initialCluster)}
CLUSTER_TOKEN=${shQuote(input.clusterToken)}
DATA_DIR=${shQuote(input.dataDir)}
ETCD_USER=${shQuote(input.user)}
BUMP_REVISION=${BUMP_REVISION}
AWS_PAGER=
export AWS_PAGER

log() { echo "etcd-restore: $*"; }
fail() { log "refused: $*" >&2; exit 1; }

s3_cp() {
  if [ -n "$S3_ENDPOINT_URL" ]; then aws --region "$REGION" --endpoint-url "$S3_ENDPOINT_URL" s3 cp --only-show-errors "$@"; else aws --region "$REGION" s3 cp --only-show-errors "$@"; fi
}

# A top-level string or number of the metadata (the backup writes it on one line, these keys once).
meta() { sed -n "s/.*\\"$1\\":\\"\\{0,1\\}\\([^\\",}]*\\).*/\\1/p" "$work/metadata.json" | head -n 1; }

${INSTANCE_REGION_FUNCTION}
minor_of() { echo "$1" | sed -n 's/^v\\{0,1\\}\\([0-9]*\\.[0-9]*\\)\\..*/\\1/p'; }

main() {
  [ ! -e "$DATA_DIR/member" ] || fail "$DATA_DIR already holds a member: a restore never writes over data (delete it to restore again)"
  case "$SNAPSHOT_URI" in
    s3://*.snapshot.db.gz) ;;
    *) fail "$SNAPSHOT_URI is not an s3://... .snapshot.db.gz object, as etcd-backup uploads them" ;;
  esac
  [ -n "$REGION" ] || REGION=$(instance_region) || fail "no region from IMDS (give restoreFrom.region)"
  [ -n "$ETCD_MINOR" ] || ETCD_MINOR=$(minor_of "$("$BIN_DIR/etcd" --version | sed -n 's/^etcd Version: //p')")
  [ -n "$ETCD_MINOR" ] || fail "cannot tell which etcd $BIN_DIR/etcd is"
  work=$(mktemp -d /var/tmp/etcd-restore.XXXXXX)
  trap 'rm -rf "$work"' EXIT
  metadata_uri=$(echo "$SNAPSHOT_URI" | sed 's/\\.snapshot\\.db\\.gz$/.json/')
  s3_cp "$SNAPSHOT_URI" "$work/snapshot.db.gz" >"$work/cp.log" 2>&1 || fail "cannot download $SNAPSHOT_URI: $(tail -n 2 "$work/cp.log")"
  s3_cp "$metadata_uri" "$work/metadata.json" >"$work/cp.log" 2>&1 ||
    fail "cannot download its metadata $metadata_uri: $(tail -n 2 "$work/cp.log") (a snapshot without metadata is an upload that did not finish)"
  expected=$(meta sha256)
  actual=$(sha256sum "$work/snapshot.db.gz" | cut -d ' ' -f 1)
  [ "$expected" = "$actual" ] || fail "$SNAPSHOT_URI has SHA-256 $actual but its metadata says $expected: the object is corrupt or not this snapshot"
  # Under the old token a member of the old cluster that comes back could join the new one.
  [ "$(meta clusterToken)" != "$CLUSTER_TOKEN" ] ||
    fail "the snapshot is of cluster $CLUSTER_TOKEN, the token this new cluster would have: give the restored cluster a new token"
  from=$(minor_of "$(meta etcdVersion)")
  [ -n "$from" ] || fail "its metadata names no etcd version"
  # etcd restores a snapshot of its own minor version or of the one before; never of a later one.
  from_minor=$(echo "$from" | cut -d . -f 2)
  to_minor=$(echo "$ETCD_MINOR" | cut -d . -f 2)
  if [ "$from_minor" -gt "$to_minor" ] || [ $((to_minor - from_minor)) -gt 1 ]; then
    fail "the snapshot was taken by etcd $from and this member runs $ETCD_MINOR: restore it with etcd $from (or the minor version after it), then upgrade one minor version at a time"
  fi
  gunzip -c "$work/snapshot.db.gz" >"$work/snapshot.db" 2>"$work/gunzip.log" || fail "$SNAPSHOT_URI does not decompress: $(cat "$work/gunzip.log")"
  if [ -x "$BIN_DIR/etcdutl" ]; then
    tool="$BIN_DIR/etcdutl"
    set -- --bump-revision "$BUMP_REVISION" --mark-compacted
  else
    tool="$BIN_DIR/etcdctl"
    set --
  fi
  ETCDCTL_API=3 "$tool" snapshot status "$work/snapshot.db" >"$work/status" 2>&1 || fail "$SNAPSHOT_URI is corrupt: $(tail -n 1 "$work/status")"
  mkdir -p "$(dirname "$DATA_DIR")"
  ETCDCTL_API=3 "$tool" snapshot restore "$work/snapshot.db" --name "$MEMBER" --initial-cluster "$INITIAL_CLUSTER" \\
    --initial-cluster-token "$CLUSTER_TOKEN" --initial-advertise-peer-urls "$PEER_URL" --data-dir "$DATA_DIR" "$@" >"$work/restore.log" 2>&1 ||
    fail "snapshot restore: $(tail -n 3 "$work/restore.log")"
  chown -R "$ETCD_USER:" "$DATA_DIR"
  chmod 0700 "$DATA_DIR"
  log "restored $MEMBER from $SNAPSHOT_URI (etcd $(meta etcdVersion), revision $(meta revision), $(meta totalKeys) database keys) into $DATA_DIR, cluster token $CLUSTER_TOKEN$([ $# -gt 0 ] && echo ", revision bumped by $BUMP_REVISION")"
}

main "$@"
`;
}
