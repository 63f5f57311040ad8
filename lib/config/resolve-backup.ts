import { Token } from "../cdktf";
import type { EtcdBackupOptions } from "../props";
import type { Problems } from "./config-error";
import { DEFAULTS } from "./defaults";
import { isIntegerIn } from "./resolve-pki";
import type { ResolvedBackup } from "./resolved-cluster";

// systemd.time(7) calendar events use digits, letters (weekdays, "hourly"), and * , : / . ~ - and
// spaces. Anything else (a quote, "$", a newline) would break the timer unit, so it is refused here.
const CALENDAR_EVENT = /^[A-Za-z0-9*,:/.~ -]+$/;
// S3's rules for new bucket names: 3-63 lowercase letters, digits, "." and "-", a letter or digit
// at each end, no "..", not an IP address.
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const PREFIX = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;
// CloudWatch namespaces: 1-255 of these characters, and "AWS/" is AWS's own.
const METRIC_NAMESPACE = /^[A-Za-z0-9 ._/#:-]{1,255}$/;

/** `backup` checked, with its defaults: undefined when the cluster takes no backups. */
export function resolveBackup(
  backup: EtcdBackupOptions | undefined,
  membershipTransport: "ssm" | "direct",
  problems: Problems,
  warnings: string[]
): ResolvedBackup | undefined {
  if (backup === undefined) return undefined;
  if (backup === null || typeof backup !== "object" || Array.isArray(backup)) {
    problems.add("backup", `backup is ${JSON.stringify(backup)}: give an object such as {} (every default) or { schedule: "hourly" }`);
    return undefined;
  }

  const schedule = backup.schedule ?? DEFAULTS.backup.schedule;
  if (typeof schedule !== "string" || !CALENDAR_EVENT.test(schedule.trim())) {
    problems.add(
      "backup.schedule",
      `backup.schedule is ${JSON.stringify(
        schedule
      )}: give a systemd OnCalendar expression such as "*:0/15" (every 15 minutes), "hourly" or "*-*-* 02:00:00"`
    );
  }

  const bucket = backup.bucket;
  if (bucket !== undefined && !Token.isUnresolved(bucket) && (typeof bucket !== "string" || !isBucketName(bucket))) {
    problems.add(
      "backup.bucket",
      `backup.bucket is ${JSON.stringify(
        bucket
      )}: give an S3 bucket name (3-63 lowercase letters, digits, "." and "-"), or leave it out for a bucket this construct creates`
    );
  }

  const prefix = backup.prefix;
  if (prefix !== undefined && (typeof prefix !== "string" || !PREFIX.test(prefix) || prefix.length > 512)) {
    problems.add(
      "backup.prefix",
      `backup.prefix is ${JSON.stringify(
        prefix
      )}: give "/"-separated segments of letters, digits, ".", "_" and "-", without a leading or trailing "/" (e.g. "etcd/prod")`
    );
  }

  if (backup.kmsKeyId !== undefined && (typeof backup.kmsKeyId !== "string" || backup.kmsKeyId.trim() === "")) {
    problems.add(
      "backup.kmsKeyId",
      `backup.kmsKeyId is ${JSON.stringify(backup.kmsKeyId)}: give a KMS key id, ARN or alias, or leave it out for the aws/s3 key`
    );
  }

  const retention = resolveRetention(backup, problems);

  const metricNamespace = backup.metricNamespace ?? DEFAULTS.backup.metricNamespace;
  if (typeof metricNamespace !== "string" || !METRIC_NAMESPACE.test(metricNamespace) || metricNamespace.startsWith("AWS/")) {
    problems.add(
      "backup.metricNamespace",
      `backup.metricNamespace is ${JSON.stringify(
        metricNamespace
      )}: give 1-255 letters, digits, spaces and . _ / # : -, not starting with "AWS/" (e.g. "EtcdCluster")`
    );
  }

  const beforeMembershipChanges = backup.beforeMembershipChanges ?? membershipTransport === "ssm";
  if (typeof beforeMembershipChanges !== "boolean") {
    problems.add(
      "backup.beforeMembershipChanges",
      `backup.beforeMembershipChanges is ${JSON.stringify(beforeMembershipChanges)}: give true or false`
    );
  } else if (beforeMembershipChanges && membershipTransport !== "ssm") {
    problems.add(
      "backup.beforeMembershipChanges",
      `backup.beforeMembershipChanges is true but membershipTransport is "direct": the backup runs on a member through SSM Run Command; use membershipTransport "ssm", or drop beforeMembershipChanges`
    );
  } else if (backup.beforeMembershipChanges === undefined && membershipTransport !== "ssm") {
    warnings.push(
      `backup is on with membershipTransport "direct": deploys that add or remove a member take no backup first (that runs through SSM Run Command); take one with \`etcd-backup --force\` on a member before such a deploy`
    );
  }

  return {
    schedule: String(schedule).trim(),
    bucket,
    prefix,
    kmsKeyId: backup.kmsKeyId,
    retention,
    metricNamespace,
    beforeMembershipChanges: beforeMembershipChanges === true,
  };
}

function resolveRetention(backup: EtcdBackupOptions, problems: Problems): ResolvedBackup["retention"] {
  const given = backup.retention;
  if (given !== undefined && backup.bucket !== undefined) {
    problems.add(
      "backup.retention",
      `backup.retention is given with backup.bucket ${JSON.stringify(
        backup.bucket
      )}: a bucket you bring keeps its own lifecycle rules; drop retention, or drop bucket to let this construct create one`
    );
  }
  const recentDays = given?.recentDays ?? DEFAULTS.backup.recentDays;
  const dailyDays = given?.dailyDays ?? DEFAULTS.backup.dailyDays;
  if (!isIntegerIn(recentDays, 1, 3650)) {
    problems.add(
      "backup.retention.recentDays",
      `backup.retention.recentDays is ${JSON.stringify(recentDays)}: give whole days from 1 to 3650`
    );
  }
  if (!isIntegerIn(dailyDays, 1, 36500)) {
    problems.add(
      "backup.retention.dailyDays",
      `backup.retention.dailyDays is ${JSON.stringify(dailyDays)}: give whole days from 1 to 36500`
    );
  } else if (isIntegerIn(recentDays, 1, 3650) && dailyDays < recentDays) {
    problems.add(
      "backup.retention.dailyDays",
      `backup.retention.dailyDays is ${dailyDays}, shorter than recentDays ${recentDays}: a day's snapshot would expire before the recent ones; give dailyDays of at least ${recentDays}`
    );
  }
  return { recentDays, dailyDays };
}

function isBucketName(name: string): boolean {
  return BUCKET_NAME.test(name) && !name.includes("..") && !/^\d+\.\d+\.\d+\.\d+$/.test(name);
}
