import { shQuote } from "../shell-quote";
import { INSTANCE_REGION_FUNCTION } from "../host/instance-region";

/** Where the snapshots go: an S3 bucket (or an S3-compatible store at `endpointUrl`). */
/**
 * The retention tier of each snapshot and its metadata, as the object tag `etcd-tier`, which the
 * bucket's lifecycle rules expire by: the first snapshot of each UTC day, and every forced one (a
 * membership change), is "daily"; the rest are "recent".
 */
export const BACKUP_TIERS = { recent: "recent", daily: "daily" } as const;
export const BACKUP_TIER_TAG = "etcd-tier";

export interface BackupTarget {
  readonly bucket: string;
  /** Key prefix of this cluster's snapshots, without a trailing slash (e.g. "etcd/etcd-0123456789abcdef"). */
  readonly prefix: string;
  /** The bucket's region; empty: the instance's own, from IMDSv2. */
  readonly region: string;
  /** SSE-KMS key (id, ARN or alias); the bucket's default aws/s3 key when not given. */
  readonly kmsKeyId?: string;
  /** Endpoints instead of AWS's: an S3-compatible store (MinIO, the lab's S3 server), the lab's CloudWatch. */
  readonly endpointUrls?: { readonly s3?: string; readonly cloudwatch?: string };
}

export interface BackupScriptInput {
  readonly target: BackupTarget;
  readonly clusterToken: string;
  readonly memberName: string;
  /** Where etcdctl (and, from 3.5 on, etcdutl) are: the install plan's binDir. */
  readonly binDir: string;
  /** The member's own client URL and certificate, as its user data writes them. */
  readonly client: { readonly url: string; readonly cacert: string; readonly cert: string; readonly key: string };
  /** CloudWatch namespace of the BackupSucceeded/BackupFailed metrics. */
  readonly metricNamespace: string;
  /**
   * A shell file the command reads after its own settings, which may set them again (the user data
   * puts the bucket's name there, where Terraform can fill in a reference).
   * @default none
   */
  readonly settingsFile?: string;
}

/**
 * The member's backup command (installed as /usr/local/sbin/etcd-backup): `etcd-backup` on a timer
 * takes the snapshot only on the current leader, so one member per interval uploads one;
 * `etcd-backup --force` (before a membership change) takes it wherever it runs. Each run saves a
 * snapshot, checks it with `snapshot status` (etcdutl from 3.5 on, etcdctl on 3.4), compresses
 * it, uploads it with SSE-KMS and then, beside it, its metadata (etcd version, revision, hash,
 * member list, cluster token, time, the SHA-256 of the upload): a snapshot without metadata is
 * an upload that did not finish. A failure exits non-zero, says which step failed, and reports
 * BackupFailed to CloudWatch (the metric needs no agent). Like the boot script it never writes
 * `${` or `%{`, which Terraform would read as a template in the user data.
 */
export function renderBackupScript(input: BackupScriptInput): string {
  const { target, client } = input;
  return `#!/bin/sh
# Takes, checks and uploads a snapshot of this etcd member's cluster. Run as root.
set -eu

BUCKET=${shQuote(target.bucket)}
PREFIX=${shQuote(target.prefix)}
REGION=${shQuote(target.region)}
KMS_KEY_ID=${shQuote(target.kmsKeyId ?? "")}
S3_ENDPOINT_URL=${shQuote(target.endpointUrls?.s3 ?? "")}
CLOUDWATCH_ENDPOINT_URL=${shQuote(target.endpointUrls?.cloudwatch ?? "")}
CLUSTER_TOKEN=${shQuote(input.clusterToken)}
MEMBER=${shQuote(input.memberName)}
BIN_DIR=${shQuote(input.binDir)}
METRIC_NAMESPACE=${shQuote(input.metricNamespace)}
ETCDCTL_API=3
ETCDCTL_ENDPOINTS=${shQuote(client.url)}
ETCDCTL_CACERT=${shQuote(client.cacert)}
ETCDCTL_CERT=${shQuote(client.cert)}
ETCDCTL_KEY=${shQuote(client.key)}
export ETCDCTL_API ETCDCTL_ENDPOINTS ETCDCTL_CACERT ETCDCTL_CERT ETCDCTL_KEY
AWS_PAGER=
export AWS_PAGER
SETTINGS=${shQuote(input.settingsFile ?? "")}

log() { echo "etcd-backup: $*"; }
step=start
fail() { log "failed at $step: $*" >&2; metric BackupFailed 1 Count; exit 1; }

# aws with the service's endpoint, when one is configured: aws_at URL ARGS...
aws_at() {
  url=$1
  shift
  if [ -n "$url" ]; then aws --region "$REGION" --endpoint-url "$url" "$@"; else aws --region "$REGION" "$@"; fi
}

# Best effort: a metric that cannot be sent must not hide the backup's own outcome.
metric() {
  aws_at "$CLOUDWATCH_ENDPOINT_URL" cloudwatch put-metric-data --namespace "$METRIC_NAMESPACE" --metric-name "$1" --value "$2" --unit "$3" \\
    --dimensions "ClusterToken=$CLUSTER_TOKEN" >/dev/null 2>&1 || log "could not put metric $1 (CloudWatch unreachable or not allowed)"
}

${INSTANCE_REGION_FUNCTION}
# The day's first snapshot with its metadata (the one that finished) is kept as "daily".
tier_for() {
  if [ "$force" = yes ]; then echo ${BACKUP_TIERS.daily}; return; fi
  day_done=$(aws_at "$S3_ENDPOINT_URL" s3api list-objects-v2 --bucket "$BUCKET" --prefix "$PREFIX/$1" \
    --query 'length((Contents || \`[]\`)[?ends_with(Key, \`.json\`)])' --output text) || fail "listing s3://$BUCKET/$PREFIX/$1"
  if [ "$day_done" = 0 ]; then echo ${BACKUP_TIERS.daily}; else echo ${BACKUP_TIERS.recent}; fi
}

# put KEY FILE CONTENT-TYPE: the object, then the tier tag the lifecycle rules expire by (an
# object left untagged by a failure is kept, never expired early).
put() {
  key=$PREFIX/$1
  set -- --bucket "$BUCKET" --key "$key" --body "$2" --content-type "$3" --server-side-encryption aws:kms
  [ -z "$KMS_KEY_ID" ] || set -- "$@" --ssekms-key-id "$KMS_KEY_ID"
  aws_at "$S3_ENDPOINT_URL" s3api put-object "$@" >/dev/null &&
    aws_at "$S3_ENDPOINT_URL" s3api put-object-tagging --bucket "$BUCKET" --key "$key" \
      --tagging "TagSet=[{Key=${BACKUP_TIER_TAG},Value=$tier}]"
}

# One "Key" : value pair of \`etcdctl -w fields\` output.
field() { sed -n "s/^\\"$1\\" : //p" | head -n 1 | tr -d '"'; }

is_leader() {
  status=$("$BIN_DIR/etcdctl" endpoint status -w fields) || fail "etcdctl endpoint status on $ETCDCTL_ENDPOINTS"
  [ "$(echo "$status" | field MemberID)" = "$(echo "$status" | field Leader)" ]
}

snapshot_status() {
  if [ -x "$BIN_DIR/etcdutl" ]; then "$BIN_DIR/etcdutl" snapshot status -w fields "$1"; else "$BIN_DIR/etcdctl" snapshot status -w fields "$1"; fi
}

main() {
  force=no reason=scheduled
  while [ $# -gt 0 ]; do
    case "$1" in
      --force) force=yes ;;
      --reason) reason=$2; shift ;;
      *) fail "unknown argument $1 (usage: etcd-backup [--force] [--reason TEXT])" ;;
    esac
    shift
  done
  step=settings
  if [ -n "$SETTINGS" ]; then . "$SETTINGS" || fail "cannot read $SETTINGS"; fi
  [ -n "$BUCKET" ] || fail "no bucket to upload to (BUCKET is empty)"
  step=leader
  if [ "$force" = no ] && ! is_leader; then
    log "not the leader: the leader takes the scheduled backup"
    exit 0
  fi
  # Only now: a follower's run asks nothing of IMDS.
  step=region
  [ -n "$REGION" ] || REGION=$(instance_region) || fail "no region from IMDS (give the bucket's region)"
  work=$(mktemp -d /var/tmp/etcd-backup.XXXXXX)
  trap 'rm -rf "$work"' EXIT
  started=$(date +%s)
  step=save
  "$BIN_DIR/etcdctl" snapshot save "$work/snapshot.db" >"$work/save.log" 2>&1 || fail "etcdctl snapshot save: $(tail -n 3 "$work/save.log")"
  step=verify
  snapshot_status "$work/snapshot.db" >"$work/status" 2>&1 || fail "snapshot status: $(tail -n 3 "$work/status")"
  revision=$(field Revision <"$work/status")
  hash=$(field Hash <"$work/status")
  total_keys=$(field Keys <"$work/status")
  # A new cluster's first snapshot is at revision 0: what must be there is a number.
  case "$revision$hash$total_keys" in
    *[!0-9]* | "") fail "snapshot status did not give a revision, hash and key count: $(cat "$work/status")" ;;
  esac
  [ -n "$revision" ] && [ -n "$hash" ] && [ -n "$total_keys" ] || fail "snapshot status did not give a revision, hash and key count: $(cat "$work/status")"
  step=compress
  gzip -9 -n -c "$work/snapshot.db" >"$work/snapshot.db.gz" || fail "gzip"
  sha256=$(sha256sum "$work/snapshot.db.gz" | cut -d ' ' -f 1)
  bytes=$(wc -c <"$work/snapshot.db.gz" | tr -d ' ')
  step=metadata
  now=$(date -u +%s)
  taken_at=$(date -u -d "@$now" +%Y-%m-%dT%H:%M:%SZ)
  version=$("$BIN_DIR/etcdctl" endpoint status -w fields | field Version) || fail "etcdctl endpoint status"
  members=$("$BIN_DIR/etcdctl" member list -w json) || fail "etcdctl member list"
  name="$(date -u -d "@$now" +%Y%m%dT%H%M%SZ)-$MEMBER-rev$revision"
  cat >"$work/metadata.json" <<EOF
{"format":1,"snapshot":"$name.snapshot.db.gz","sha256":"$sha256","bytes":$bytes,"etcdVersion":"$version","revision":$revision,"hash":$hash,"totalKeys":$total_keys,"clusterToken":"$CLUSTER_TOKEN","takenBy":"$MEMBER","takenAt":"$taken_at","reason":"$reason","memberList":$members}
EOF
  step=upload
  tier=$(tier_for "$(date -u -d "@$now" +%Y%m%d)") || exit 1
  put "$name.snapshot.db.gz" "$work/snapshot.db.gz" application/gzip || fail "upload of $name.snapshot.db.gz to s3://$BUCKET/$PREFIX"
  put "$name.json" "$work/metadata.json" application/json || fail "upload of $name.json to s3://$BUCKET/$PREFIX"
  metric BackupSucceeded 1 Count
  metric SnapshotBytes "$bytes" Bytes
  log "uploaded s3://$BUCKET/$PREFIX/$name.snapshot.db.gz ($tier; $bytes bytes, revision $revision, $total_keys database keys, $(($(date +%s) - started)) s)"
}

main "$@"
`;
}
