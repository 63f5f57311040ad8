// The members' backup command, run as the timer and a membership change would run it, against a
// real etcd on loopback, uploading with the real AWS CLI to a real S3-compatible server (s3rver),
// and reporting its metrics to a loopback CloudWatch. Nothing leaves the machine.
import * as fs from "node:fs";
import * as path from "node:path";
import { gunzipSync } from "node:zlib";
import { renderBackupScript, type BackupScriptInput } from "../../lib/backup/backup-script";
import { startLoopbackCluster, startLoopbackEtcd, type LoopbackEtcd } from "../support/loopback-etcd";
import { AWS_CLI, execAsync, listKeys, startMetricSink, startS3Server, type MetricSink, type S3Server } from "../support/s3-server";
import { temporaryDirectory } from "../support/temp";
import { requireTool } from "../support/tools";

const TOKEN = "etcd-0123456789abcdef";
const PREFIX = `etcd/${TOKEN}`;

let etcd: LoopbackEtcd;
let s3: S3Server;
let cloudwatch: MetricSink;
let work: string;

beforeAll(async () => {
  [etcd, s3, cloudwatch] = await Promise.all([startLoopbackEtcd(), startS3Server(["backups"]), startMetricSink()]);
  work = temporaryDirectory("backup-script-");
});

afterAll(async () => {
  await Promise.all([etcd?.stop(), s3?.close(), cloudwatch?.close()]);
});

function script(overrides: Partial<BackupScriptInput["target"]> = {}, member: LoopbackEtcd = etcd): string {
  const file = path.join(work, `etcd-backup-${Math.random().toString(36).slice(2)}`);
  fs.writeFileSync(
    file,
    renderBackupScript({
      target: {
        bucket: "backups",
        prefix: PREFIX,
        region: "us-east-1",
        endpointUrls: { s3: s3.url, cloudwatch: cloudwatch.url },
        ...overrides,
      },
      clusterToken: TOKEN,
      memberName: "etcd_node1",
      binDir: path.dirname(requireTool("etcdctl", "etcd-client")),
      client: { url: member.clientUrl, ...member.tls },
      metricNamespace: "etcd-cluster",
    }),
    { mode: 0o755 }
  );
  return file;
}

function run(file: string, ...args: string[]) {
  return execAsync("sh", [file, ...args]);
}

async function tierOf(key: string): Promise<string | undefined> {
  const r = await aws("s3api", "get-object-tagging", "--bucket", "backups", "--key", key, "--output", "json");
  expect(r.status).toBe(0);
  const tags = JSON.parse(r.stdout).TagSet as { Key: string; Value: string }[];
  return tags.find((t) => t.Key === "etcd-tier")?.Value;
}

function aws(...args: string[]) {
  return execAsync(AWS_CLI, ["--region", "us-east-1", "--endpoint-url", s3.url, ...args]);
}

test("GIVEN 1,000 keys WHEN the leader's backup runs THEN exactly one snapshot and its metadata arrive, at the last write's revision or later", async () => {
  // GIVEN 1,000 keys, and the revision of the last write
  for (let i = 0; i < 1000; i += 100) {
    // One transaction of 100 puts (etcd allows 128 operations per transaction): no compares, the puts, no else.
    const puts = Array.from({ length: 100 }, (_, j) => `put key/${String(i + j).padStart(4, "0")} value-${i + j}`);
    expect(etcd.etcdctl(["txn"], `\n${puts.join("\n")}\n\n\n`)).toMatchObject({ code: 0, stdout: expect.stringMatching(/^SUCCESS/) });
  }
  const lastWrite = etcd.etcdctl(["put", "key/last", "last", "-w", "json"]);
  expect(lastWrite.code).toBe(0);
  const lastRevision = Number(JSON.parse(lastWrite.stdout).header.revision);

  // WHEN the backup runs as the timer runs it (the single member is the leader)
  const result = await run(script());

  // THEN it says what it uploaded, and the bucket holds one snapshot and its metadata
  expect(result.stderr).toBe("");
  expect(result.status).toBe(0);
  expect(result.stdout).toMatch(
    /^etcd-backup: uploaded s3:\/\/backups\/etcd\/etcd-0123456789abcdef\/\d{8}T\d{6}Z-etcd_node1-rev\d+\.snapshot\.db\.gz \(daily; \d+ bytes, revision \d+, \d+ database keys, \d+ s\)\n$/
  );
  const keys = await listKeys(s3, "backups", `${PREFIX}/`);
  expect(keys).toHaveLength(2);
  const snapshotKey = keys.find((k) => k.endsWith(".snapshot.db.gz"))!;
  expect(keys).toContain(snapshotKey.replace(/\.snapshot\.db\.gz$/, ".json"));

  // AND the snapshot is one etcdctl reads, at the last write's revision or later
  const gz = path.join(work, "downloaded.db.gz");
  expect((await aws("s3", "cp", `s3://backups/${snapshotKey}`, gz)).status).toBe(0);
  const db = path.join(work, "downloaded.db");
  fs.writeFileSync(db, gunzipSync(fs.readFileSync(gz)));
  const status = await execAsync("etcdctl", ["snapshot", "status", "-w", "json", db], { ETCDCTL_API: "3" });
  expect(status.status).toBe(0);
  const { revision, totalKey } = JSON.parse(status.stdout);
  expect(revision).toBeGreaterThanOrEqual(lastRevision);
  expect(totalKey).toBeGreaterThanOrEqual(1001);

  // AND its metadata says what it is: version, revision, member list, token, time, checksum
  const metadataFile = path.join(work, "metadata.json");
  expect((await aws("s3", "cp", `s3://backups/${snapshotKey.replace(/\.snapshot\.db\.gz$/, ".json")}`, metadataFile)).status).toBe(0);
  const metadata = JSON.parse(fs.readFileSync(metadataFile, "utf8"));
  expect(metadata).toMatchObject({
    format: 1,
    snapshot: path.basename(snapshotKey),
    sha256: require("node:crypto").createHash("sha256").update(fs.readFileSync(gz)).digest("hex"),
    etcdVersion: expect.stringMatching(/^3\.\d+\.\d+$/),
    revision,
    totalKeys: totalKey,
    clusterToken: TOKEN,
    takenBy: "etcd_node1",
    reason: "scheduled",
  });
  expect(Date.now() - Date.parse(metadata.takenAt)).toBeLessThan(120_000);
  expect(metadata.memberList.members.map((m: { name: string }) => m.name)).toEqual(["etcd_node1"]);
  // AND the day's first snapshot and its metadata are kept as "daily"
  expect(await tierOf(snapshotKey)).toBe("daily");
  expect(await tierOf(snapshotKey.replace(/\.snapshot\.db\.gz$/, ".json"))).toBe("daily");
  // AND CloudWatch heard of it
  expect(cloudwatch.metrics).toEqual(expect.arrayContaining(["BackupSucceeded=1", expect.stringMatching(/^SnapshotBytes=\d+/)]));
});

test("GIVEN the day's daily snapshot WHEN the timer runs again THEN that one is recent, and a forced one is daily", async () => {
  // GIVEN the day's first snapshot (the test above)
  const before = await listKeys(s3, "backups", `${PREFIX}/`);
  expect(before.length).toBeGreaterThan(0);
  // WHEN a scheduled backup and then a forced one run
  const scheduled = await run(script());
  const forced = await run(script(), "--force", "--reason", "before adding etcd_node4");
  // THEN
  expect(scheduled).toMatchObject({ status: 0, stdout: expect.stringMatching(/\(recent; /) });
  expect(forced).toMatchObject({ status: 0, stdout: expect.stringMatching(/\(daily; /) });
  const added = (await listKeys(s3, "backups", `${PREFIX}/`)).filter((k) => !before.includes(k));
  expect(added).toHaveLength(4);
  const tiers = await Promise.all(added.filter((k) => k.endsWith(".json")).map(async (k) => [k.replace(/^.*Z-/, ""), await tierOf(k)]));
  expect(tiers.map(([, tier]) => tier).sort()).toEqual(["daily", "recent"]);
});

test("GIVEN a store that refuses the upload WHEN a forced backup runs THEN it exits 1 naming the step, reports BackupFailed, and leaves no file behind", async () => {
  // GIVEN a bucket that does not exist
  const before = cloudwatch.metrics.length;
  const tmpBefore = fs.readdirSync("/var/tmp").filter((f) => f.startsWith("etcd-backup."));
  // WHEN
  const result = await run(script({ bucket: "no-such-bucket" }), "--force", "--reason", "before adding etcd_node4");
  // THEN
  expect(result.status).toBe(1);
  expect(result.stderr).toMatch(
    /^etcd-backup: failed at upload: upload of \S+\.snapshot\.db\.gz to s3:\/\/no-such-bucket\/etcd\/etcd-0123456789abcdef$/m
  );
  expect(cloudwatch.metrics.slice(before)).toEqual(["BackupFailed=1"]);
  expect(fs.readdirSync("/var/tmp").filter((f) => f.startsWith("etcd-backup."))).toEqual(tmpBefore);
});

test("GIVEN the script THEN it never writes a Terraform template sequence, so it can ride in user data as it is", () => {
  const text = fs.readFileSync(script({ kmsKeyId: "alias/etcd-backups" }), "utf8");
  expect(text).not.toMatch(/\$\{|%\{/);
  expect(text).toContain("KMS_KEY_ID='alias/etcd-backups'");
  expect(text).toContain("--server-side-encryption aws:kms");
});

test("GIVEN a 3-member cluster WHEN every member's timer fires THEN only the leader uploads, the others say they are not the leader", async () => {
  // GIVEN three members on loopback, and their backups going under a prefix of their own
  const cluster = await startLoopbackCluster(3);
  try {
    const prefix = "three-members";
    // WHEN each member's scheduled backup runs at once, as their timers would
    const results = await Promise.all(cluster.map((member) => run(script({ prefix }, member))));
    // THEN one uploaded, and two skipped
    const uploaded = results.filter((r) => r.status === 0 && r.stdout.startsWith("etcd-backup: uploaded "));
    const skipped = results.filter(
      (r) => r.status === 0 && r.stdout === "etcd-backup: not the leader: the leader takes the scheduled backup\n"
    );
    expect([uploaded.length, skipped.length]).toEqual([1, 2]);
    expect(await listKeys(s3, "backups", `${prefix}/`)).toHaveLength(2); // the snapshot and its metadata
    // AND the one that uploaded is the leader (ids read as text: they are 64-bit)
    const field = (member: LoopbackEtcd, name: string) =>
      new RegExp(`^"${name}" : (\\d+)$`, "m").exec(member.etcdctl(["endpoint", "status", "-w", "fields"]).stdout)?.[1];
    const uploader = cluster[results.indexOf(uploaded[0])];
    expect(field(uploader, "MemberID")).toBe(field(cluster[0], "Leader"));
    expect(field(uploader, "MemberID")).toMatch(/^\d+$/);
  } finally {
    await Promise.all(cluster.map((m) => m.stop()));
  }
});
