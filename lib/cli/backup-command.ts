// `etcd-cluster backup now | list`: a snapshot taken now on a member, through the members' own
// backup path (etcd-backup --force, by Run Command), and the snapshots a cluster's prefix holds.
import { backupOnMember, parseFlags } from "../membership/etcd-membership";
import { clientFor, unreachableMessage } from "./client";
import { runCommand } from "./run-command";
import { resolveConnection, UsageError, type Connection, type ConnectionFlags } from "./connection";

export const BACKUP_USAGE = `  backup now [--reason TEXT]      a snapshot now, on a member (etcd-backup --force, by Run Command: --transport=ssm)
  backup list --location s3://BUCKET/PREFIX/   the snapshots under a cluster's prefix, newest first`;

// As etcd-backup names them: <UTC time>-<member>-rev<revision>.snapshot.db.gz, its metadata NAME.json.
const SNAPSHOT_NAME = /^(\d{8}T\d{6}Z)-(.+)-rev(\d+)\.snapshot\.db\.gz$/;

export async function backupCommand(args: string[], out: (line: string) => void): Promise<number> {
  const [sub, ...rest] = args;
  const flags = parseFlags(rest);
  let connection: Connection | undefined;
  try {
    if (sub === "now") {
      connection = resolveConnection(flags as ConnectionFlags);
      if (connection.transport !== "ssm") {
        throw new UsageError("backup now runs etcd-backup on a member through SSM Run Command: give --transport=ssm");
      }
      const result = await backupOnMember(clientFor(connection, out), flags.reason || "etcd-cluster backup now");
      if (!result.ok) {
        const where = result.instanceId ? ` on ${result.instanceId} (exit ${result.exitCode})` : "";
        out(`etcd-cluster backup now: the backup failed${where}: ${result.said}`);
        return 1;
      }
      out(`on ${result.instanceId}: ${result.said}`);
      return 0;
    }
    if (sub === "list") {
      const location = /^s3:\/\/([^/]+)\/(.+?)\/?$/.exec(flags.location ?? "");
      if (!location)
        throw new UsageError(`backup list needs --location s3://BUCKET/PREFIX/ (the backup_location output):\n${BACKUP_USAGE}`);
      const listed = await listSnapshots(location[1], location[2], flags);
      if (listed.length === 0) out(`no snapshots under s3://${location[1]}/${location[2]}/`);
      for (const s of listed) {
        const state = s.hasMetadata ? "" : "  (no metadata: an upload that did not finish)";
        out(`${s.takenAt}  ${s.member}  revision ${s.revision}  ${s.bytes} bytes  s3://${location[1]}/${s.key}${state}`);
      }
      return 0;
    }
    throw new UsageError(`backup needs now or list:\n${BACKUP_USAGE}`);
  } catch (err) {
    out(`etcd-cluster backup: ${(connection && unreachableMessage(err, connection)) ?? (err as Error).message}`);
    return err instanceof UsageError ? 2 : 1;
  }
}

interface ListedSnapshot {
  readonly key: string;
  readonly takenAt: string;
  readonly member: string;
  readonly revision: number;
  readonly bytes: number;
  readonly hasMetadata: boolean;
}

async function listSnapshots(bucket: string, prefix: string, flags: Record<string, string>): Promise<ListedSnapshot[]> {
  const args = [
    ...(flags.region ? ["--region", flags.region] : []),
    ...(flags["endpoint-url"] ? ["--endpoint-url", flags["endpoint-url"]] : []),
    "s3api",
    "list-objects-v2",
    "--bucket",
    bucket,
    "--prefix",
    `${prefix}/`,
    "--output",
    "json",
  ];
  const { code, stdout, stderr, missing } = await runCommand(process.env.ETCD_CLUSTER_AWS_CLI || "aws", args, { AWS_PAGER: "" });
  if (missing) throw new Error("the AWS CLI is not on PATH: install it");
  if (code !== 0) throw new Error(`cannot list s3://${bucket}/${prefix}/: ${stderr.trim().split("\n").pop()}`);
  const objects: { Key: string; Size: number }[] = stdout.trim() ? JSON.parse(stdout).Contents ?? [] : [];
  const keys = new Set(objects.map((o) => o.Key));
  return objects
    .flatMap((o) => {
      const name = SNAPSHOT_NAME.exec(o.Key.slice(prefix.length + 1));
      if (!name) return [];
      const t = name[1];
      return [
        {
          key: o.Key,
          takenAt: `${t.slice(0, 4)}-${t.slice(4, 6)}-${t.slice(6, 8)}T${t.slice(9, 11)}:${t.slice(11, 13)}:${t.slice(13, 15)}Z`,
          member: name[2],
          revision: Number(name[3]),
          bytes: o.Size,
          hasMetadata: keys.has(o.Key.replace(/\.snapshot\.db\.gz$/, ".json")),
        },
      ];
    })
    .sort((a, b) => (a.key < b.key ? 1 : -1));
}
