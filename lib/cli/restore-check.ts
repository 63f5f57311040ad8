// `etcd-cluster restore-check SNAPSHOT`: the checks a member's etcd-restore makes before it
// restores, made offline on the operator's machine, so a snapshot is known good (or not) before a
// disaster needs it: its SHA-256 against its metadata, that it decompresses, etcd's own
// `snapshot status` of it, and which etcd versions can restore it.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { gunzipSync } from "node:zlib";
import { parseFlags } from "../membership/etcd-membership";
import { UsageError } from "./connection";
import { runCommand } from "./run-command";

export const RESTORE_CHECK_USAGE = `  restore-check SNAPSHOT         verify a snapshot etcd-backup uploaded (a .snapshot.db.gz file or s3:// URI, its
                                 .json metadata beside it) with etcd's snapshot status; --etcd-bin DIR, --region R,
                                 --endpoint-url URL`;

interface SnapshotMetadata {
  readonly sha256: string;
  readonly etcdVersion: string;
  readonly revision: number;
  readonly hash: number;
  readonly clusterToken: string;
  readonly takenAt: string;
  readonly takenBy: string;
}

class Refused extends Error {}

export async function restoreCheckCommand(args: string[], out: (line: string) => void): Promise<number> {
  const [snapshot, ...rest] = args;
  const flags = parseFlags(rest);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "etcd-restore-check-"));
  try {
    if (!snapshot || snapshot.startsWith("--") || !snapshot.endsWith(".snapshot.db.gz")) {
      throw new UsageError(
        `restore-check needs a snapshot as etcd-backup names it (NAME.snapshot.db.gz, a file or s3:// URI):\n${RESTORE_CHECK_USAGE}`
      );
    }
    const metadataName = snapshot.replace(/\.snapshot\.db\.gz$/, ".json");
    const [gzFile, metadataFile] = snapshot.startsWith("s3://")
      ? await Promise.all([download(snapshot, work, "snapshot.db.gz", flags), download(metadataName, work, "metadata.json", flags)])
      : [snapshot, metadataName];
    const gz = readOrRefuse(gzFile, "the snapshot");
    const metadata = readMetadata(metadataFile);
    const sha256 = createHash("sha256").update(gz).digest("hex");
    if (sha256 !== metadata.sha256) {
      throw new Refused(
        `${snapshot} has SHA-256 ${sha256} but its metadata says ${metadata.sha256}: the object is corrupt or not this snapshot`
      );
    }
    let db: Buffer;
    try {
      db = gunzipSync(gz);
    } catch (err) {
      throw new Refused(`${snapshot} does not decompress: ${(err as Error).message}`);
    }
    fs.writeFileSync(path.join(work, "snapshot.db"), db);
    const status = await snapshotStatus(path.join(work, "snapshot.db"), flags["etcd-bin"], snapshot);
    if (status.revision !== metadata.revision || status.hash !== metadata.hash) {
      throw new Refused(
        `${snapshot} is at revision ${status.revision} with hash ${status.hash}, but its metadata says revision ${metadata.revision}, hash ${metadata.hash}: not the snapshot the metadata describes`
      );
    }
    const minor = /^v?(\d+)\.(\d+)\./.exec(metadata.etcdVersion);
    const restorableBy = minor
      ? `etcd ${minor[1]}.${minor[2]} or ${minor[1]}.${Number(minor[2]) + 1}`
      : "an etcd of the version that took it";
    out(`${snapshot}: good`);
    out(`  taken ${metadata.takenAt} by ${metadata.takenBy} of cluster ${metadata.clusterToken}, etcd ${metadata.etcdVersion}`);
    out(
      `  revision ${status.revision}, hash ${status.hash}, ${status.keys} database keys, ${db.length} bytes (${gz.length} compressed), SHA-256 ${sha256}`
    );
    out(`  restorable by ${restorableBy} (checked with ${status.tool})`);
    return 0;
  } catch (err) {
    out(`etcd-cluster restore-check: ${err instanceof Refused ? "refused: " : ""}${(err as Error).message}`);
    return err instanceof UsageError ? 2 : 1;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

function readOrRefuse(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new Refused(`cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function readMetadata(file: string): SnapshotMetadata {
  const text = readOrRefuse(file, "its metadata (a snapshot without metadata is an upload that did not finish)").toString("utf8");
  let metadata: Partial<SnapshotMetadata>;
  try {
    metadata = JSON.parse(text);
  } catch {
    throw new Refused(`${file} is not JSON: not the metadata etcd-backup writes`);
  }
  for (const key of ["sha256", "etcdVersion", "revision", "hash", "clusterToken", "takenAt", "takenBy"] as const) {
    if (metadata[key] === undefined) throw new Refused(`${file} has no ${key}: not the metadata etcd-backup writes`);
  }
  return metadata as SnapshotMetadata;
}

/** etcd's own reading of the file: etcdutl where there is one (3.5 on), else etcdctl. */
async function snapshotStatus(
  db: string,
  binDir: string | undefined,
  name: string
): Promise<{ revision: number; hash: number; keys: number; tool: string }> {
  const candidates = binDir ? [path.join(binDir, "etcdutl"), path.join(binDir, "etcdctl")] : ["etcdutl", "etcdctl"];
  for (const tool of candidates) {
    const result = await runCommand(tool, ["snapshot", "status", "-w", "json", db], { ETCDCTL_API: "3" });
    if (result.missing) continue;
    if (result.code !== 0)
      throw new Refused(`${name} is corrupt: ${path.basename(tool)} snapshot status: ${lastLine(result.stderr || result.stdout)}`);
    const { revision, hash, totalKey } = JSON.parse(result.stdout);
    return { revision, hash, keys: totalKey, tool: path.basename(tool) };
  }
  throw new Error(
    `neither etcdutl nor etcdctl is ${binDir ? `in ${binDir}` : "on PATH"}: install etcd's client tools, or give --etcd-bin DIR`
  );
}

function download(uri: string, dir: string, name: string, flags: Record<string, string>): Promise<string> {
  const file = path.join(dir, name);
  const args = [
    ...(flags.region ? ["--region", flags.region] : []),
    ...(flags["endpoint-url"] ? ["--endpoint-url", flags["endpoint-url"]] : []),
  ];
  return runCommand(process.env.ETCD_CLUSTER_AWS_CLI || "aws", [...args, "s3", "cp", "--only-show-errors", uri, file], {
    AWS_PAGER: "",
  }).then((r) => {
    if (r.missing) throw new Error("the AWS CLI is not on PATH: install it, or download the snapshot and its .json and check the files");
    if (r.code !== 0) throw new Refused(`cannot download ${uri}: ${lastLine(r.stderr)}`);
    return file;
  });
}

function lastLine(text: string): string {
  return text.trim().split("\n").pop() ?? "";
}
