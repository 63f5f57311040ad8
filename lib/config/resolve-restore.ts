import { Token } from "../cdktf";
import type { EtcdRestoreOptions } from "../props";
import type { Problems } from "./config-error";
import type { ResolvedRestore } from "./resolved-cluster";

// As etcd-backup names its uploads: a bucket, then a key ending in .snapshot.db.gz.
const SNAPSHOT_URI = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/([A-Za-z0-9!_.*'()/-]+\.snapshot\.db\.gz)$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[0-9a-f-]+$/;

/** `restoreFrom` checked: undefined when the cluster starts empty. */
export function resolveRestore(restore: EtcdRestoreOptions | undefined, problems: Problems): ResolvedRestore | undefined {
  if (restore === undefined) return undefined;
  if (restore === null || typeof restore !== "object" || Array.isArray(restore)) {
    problems.add(
      "restoreFrom",
      `restoreFrom is ${JSON.stringify(restore)}: give an object such as { snapshotUri: "s3://bucket/prefix/....snapshot.db.gz" }`
    );
    return undefined;
  }
  const uri = restore.snapshotUri;
  const match = typeof uri === "string" && !Token.isUnresolved(uri) ? SNAPSHOT_URI.exec(uri) : null;
  if (!match) {
    problems.add(
      "restoreFrom.snapshotUri",
      `restoreFrom.snapshotUri is ${JSON.stringify(
        uri
      )}: give the s3:// URI of a snapshot as etcd-backup uploads it, ending in .snapshot.db.gz (\`etcd-cluster backup list\` or \`aws s3 ls\` shows them)`
    );
  }
  if (restore.region !== undefined && (typeof restore.region !== "string" || !REGION.test(restore.region))) {
    problems.add(
      "restoreFrom.region",
      `restoreFrom.region is ${JSON.stringify(
        restore.region
      )}: give an AWS region such as "us-east-1", or leave it out for the members' region`
    );
  }
  if (restore.kmsKeyArn !== undefined && (typeof restore.kmsKeyArn !== "string" || !KMS_KEY_ARN.test(restore.kmsKeyArn))) {
    problems.add(
      "restoreFrom.kmsKeyArn",
      `restoreFrom.kmsKeyArn is ${JSON.stringify(
        restore.kmsKeyArn
      )}: give the ARN of the KMS key (arn:aws:kms:<region>:<account>:key/<id>), or leave it out for the aws/s3 key`
    );
  }
  if (!match) return undefined;
  return { snapshotUri: uri, bucket: match[1], key: match[2], region: restore.region, kmsKeyArn: restore.kmsKeyArn };
}

/** A snapshot under "<token>/" was taken by the cluster of that token: the restored one needs another. */
export function restoreTokenProblem(restore: ResolvedRestore, token: string): string | undefined {
  if (!restore.key.split("/").includes(token)) return undefined;
  return `restoreFrom.snapshotUri ${JSON.stringify(restore.snapshotUri)} is under ${token}/, and initialClusterToken is ${JSON.stringify(
    token
  )}: a restored cluster needs a token of its own; leave initialClusterToken out for a new one`;
}
