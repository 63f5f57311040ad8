// Disaster recovery rehearsed on each etcd version the suites have: a snapshot the members'
// etcd-backup took of a real etcd with 1,000 keys, restored by the members' etcd-restore into a new
// data directory with a new cluster token, and a new etcd started from it. The real AWS CLI
// downloads from a real S3-compatible server; everything is on loopback.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { renderBackupScript } from "../../lib/backup/backup-script";
import { renderRestoreScript, type RestoreScriptInput } from "../../lib/backup/restore-script";
import { restoreCheckCommand } from "../../lib/cli/restore-check";
import { ETCD_MINORS, etcdBinDir, type EtcdMinor } from "../support/etcd-versions";
import { freePort, startLoopbackEtcd, type LoopbackEtcd } from "../support/loopback-etcd";
import {
  AWS_CLI,
  AWS_TEST_ENV,
  execAsync as exec,
  startMetricSink,
  startS3Server,
  type MetricSink,
  type S3Server,
} from "../support/s3-server";
import { temporaryDirectory } from "../support/temp";

const OLD_TOKEN = "etcd-0123456789abcdef";
const NEW_TOKEN = "etcd-fedcba9876543210";

describe.each(ETCD_MINORS.map((m) => [m]))("etcd %s", (minor: EtcdMinor) => {
  let binDir: string;
  let old: LoopbackEtcd;
  let restored: LoopbackEtcd | undefined;
  let s3: S3Server;
  let cloudwatch: MetricSink;
  let work: string;
  let snapshotUri: string;
  let snapshotRevision: number;

  const s3cp = (from: string, to: string) =>
    exec(AWS_CLI, ["--region", "us-east-1", "--endpoint-url", s3.url, "s3", "cp", "--only-show-errors", from, to]);

  function restoreScript(overrides: Partial<RestoreScriptInput>): string {
    const file = path.join(work, `etcd-restore-${Math.random().toString(36).slice(2)}`);
    fs.writeFileSync(
      file,
      renderRestoreScript({
        snapshotUri,
        region: "us-east-1",
        endpointUrls: { s3: s3.url },
        etcdMinor: minor,
        binDir,
        memberName: "etcd_node1",
        peerUrl: "https://127.0.0.1:1",
        initialCluster: "etcd_node1=https://127.0.0.1:1",
        clusterToken: NEW_TOKEN,
        dataDir: path.join(work, `restored-${Math.random().toString(36).slice(2)}`, "etcd_node1.etcd"),
        user: "root",
        ...overrides,
      }),
      { mode: 0o755 }
    );
    return file;
  }

  /** The snapshot as etcd-backup uploads it, with its bytes and metadata changed by `edit`, under a new name. */
  async function tampered(
    edit: (db: Buffer, metadata: Record<string, unknown>) => { gz: Buffer; metadata: Record<string, unknown> }
  ): Promise<string> {
    const gzFile = path.join(work, "original.db.gz");
    const metaFile = path.join(work, "original.json");
    expect((await s3cp(snapshotUri, gzFile)).status).toBe(0);
    expect((await s3cp(snapshotUri.replace(/\.snapshot\.db\.gz$/, ".json"), metaFile)).status).toBe(0);
    const { gz, metadata } = edit(gunzipSync(fs.readFileSync(gzFile)), JSON.parse(fs.readFileSync(metaFile, "utf8")));
    const name = `s3://backups/tampered/${Math.random().toString(36).slice(2)}`;
    fs.writeFileSync(gzFile, gz);
    fs.writeFileSync(metaFile, JSON.stringify(metadata));
    expect((await s3cp(gzFile, `${name}.snapshot.db.gz`)).status).toBe(0);
    expect((await s3cp(metaFile, `${name}.json`)).status).toBe(0);
    return `${name}.snapshot.db.gz`;
  }

  beforeAll(async () => {
    binDir = etcdBinDir(minor);
    work = temporaryDirectory(`restore-${minor}-`);
    [old, s3, cloudwatch] = await Promise.all([
      startLoopbackEtcd({ binDir, token: OLD_TOKEN }),
      startS3Server(["backups"]),
      startMetricSink(),
    ]);
    // GIVEN 1,000 keys in the old cluster, and a backup of it taken by the members' etcd-backup
    for (let i = 0; i < 1000; i += 100) {
      const puts = Array.from({ length: 100 }, (_, j) => `put key/${String(i + j).padStart(4, "0")} value-${i + j}`);
      expect(old.etcdctl(["txn"], `\n${puts.join("\n")}\n\n\n`).code).toBe(0);
    }
    const backup = path.join(work, "etcd-backup");
    fs.writeFileSync(
      backup,
      renderBackupScript({
        target: {
          bucket: "backups",
          prefix: `etcd/${OLD_TOKEN}`,
          region: "us-east-1",
          endpointUrls: { s3: s3.url, cloudwatch: cloudwatch.url },
        },
        clusterToken: OLD_TOKEN,
        memberName: "etcd_node1",
        binDir,
        client: { url: old.clientUrl, ...old.tls },
        metricNamespace: "etcd-cluster",
      })
    );
    const taken = await exec("sh", [backup]);
    expect(taken).toMatchObject({ status: 0, stderr: "" });
    const uri = /uploaded (s3:\/\/\S+\.snapshot\.db\.gz) .*revision (\d+)/.exec(taken.stdout)!;
    snapshotUri = uri[1];
    snapshotRevision = Number(uri[2]);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([old?.stop(), restored?.stop(), s3?.close(), cloudwatch?.close()]);
  });

  test("GIVEN the old cluster's snapshot WHEN restored with a new token and started THEN every key is there, in a new cluster, at a later revision", async () => {
    // WHEN the member restores the snapshot into a new data directory, for the new cluster
    const [clientPort, peerPort] = [await freePort(), await freePort()];
    const peerUrl = `https://127.0.0.1:${peerPort}`;
    const dataDir = path.join(work, "new", "etcd_node1.etcd");
    const result = await exec("sh", [restoreScript({ peerUrl, initialCluster: `etcd_node1=${peerUrl}`, dataDir })]);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    const bumped = minor !== "3.4";
    expect(result.stdout).toMatch(
      new RegExp(
        `^etcd-restore: restored etcd_node1 from ${snapshotUri} \\(etcd ${minor}\\.\\d+, revision ${snapshotRevision}, \\d+ database keys\\) into ${dataDir}, cluster token ${NEW_TOKEN}${
          bumped ? ", revision bumped by 1000000000" : ""
        }\\n$`
      )
    );
    // AND etcd starts from it
    restored = await startLoopbackEtcd({ binDir, token: NEW_TOKEN, dataDir, clientPort, peerPort });

    // THEN all 1,000 keys are there
    expect(JSON.parse(restored.etcdctl(["get", "key/", "--prefix", "--keys-only", "-w", "json"]).stdout).count).toBe(1000);
    expect(restored.etcdctl(["get", "key/0999", "--print-value-only"]).stdout.trim()).toBe("value-999");
    // AND it is another cluster (the token makes the cluster id), of one healthy voting member
    const status = (e: LoopbackEtcd) => JSON.parse(e.etcdctl(["endpoint", "status", "-w", "json"]).stdout)[0].Status;
    expect(status(restored).header.cluster_id).not.toBe(status(old).header.cluster_id);
    const members = JSON.parse(restored.etcdctl(["member", "list", "-w", "json"]).stdout).members;
    expect(members.map((m: { name: string; isLearner?: boolean }) => [m.name, m.isLearner ?? false])).toEqual([["etcd_node1", false]]);
    expect(restored.etcdctl(["endpoint", "health"]).code).toBe(0);
    // AND its revision went forward by a billion where the version can bump it (etcdutl, 3.5 on); 3.4 keeps it
    const revision = Number(status(restored).header.revision);
    if (bumped) expect(revision).toBeGreaterThanOrEqual(snapshotRevision + 1_000_000_000);
    else expect(revision).toBe(snapshotRevision);
  });

  test("GIVEN a snapshot whose bytes do not match its metadata THEN the restore refuses, naming both checksums, and writes no data", async () => {
    const uri = await tampered((db, metadata) => ({ gz: gzipSync(db.subarray(0, db.length >> 1)), metadata }));
    const dataDir = path.join(work, "sha", "etcd_node1.etcd");
    const result = await exec("sh", [restoreScript({ snapshotUri: uri, dataDir })]);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(
      /^etcd-restore: refused: s3:\/\/\S+ has SHA-256 [0-9a-f]{64} but its metadata says [0-9a-f]{64}: the object is corrupt or not this snapshot\n$/
    );
    expect(fs.existsSync(dataDir)).toBe(false);
  });

  test("GIVEN a truncated snapshot with matching metadata THEN snapshot status finds it corrupt and the restore refuses", async () => {
    const uri = await tampered((db, metadata) => {
      const gz = gzipSync(db.subarray(0, db.length >> 1));
      return { gz, metadata: { ...metadata, sha256: createHash("sha256").update(gz).digest("hex") } };
    });
    const dataDir = path.join(work, "truncated", "etcd_node1.etcd");
    const result = await exec("sh", [restoreScript({ snapshotUri: uri, dataDir })]);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^etcd-restore: refused: s3:\/\/\S+ is corrupt: .+\n$/);
    expect(fs.existsSync(path.join(dataDir, "member"))).toBe(false);
  });

  test("GIVEN a snapshot of a later etcd THEN the restore refuses, naming both versions and the way", async () => {
    const uri = await tampered((db, metadata) => ({
      gz: gzipSync(db),
      metadata: { ...metadata, sha256: createHash("sha256").update(gzipSync(db)).digest("hex"), etcdVersion: "3.7.0" },
    }));
    const result = await exec("sh", [restoreScript({ snapshotUri: uri })]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`the snapshot was taken by etcd 3.7 and this member runs ${minor}: restore it with etcd 3.7`);
  });

  test("GIVEN the old cluster's own token THEN the restore refuses, so no old member can join the new cluster", async () => {
    const dataDir = path.join(work, "same-token", "etcd_node1.etcd");
    const result = await exec("sh", [restoreScript({ clusterToken: OLD_TOKEN, dataDir })]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`the snapshot is of cluster ${OLD_TOKEN}, the token this new cluster would have: give the restored cluster a new token`);
    expect(fs.existsSync(dataDir)).toBe(false);
  });

  test("GIVEN no etcd minor version THEN the restore asks the member's etcd which it is", async () => {
    const dataDir = path.join(work, "asked", "etcd_node1.etcd");
    const result = await exec("sh", [restoreScript({ etcdMinor: "", dataDir })]);
    expect(result).toMatchObject({ status: 0, stderr: "" });
    expect(fs.existsSync(path.join(dataDir, "member"))).toBe(true);
    // AND with a binary that is no etcd it refuses
    const notEtcd = path.join(work, "not-etcd");
    fs.mkdirSync(notEtcd, { recursive: true });
    fs.writeFileSync(path.join(notEtcd, "etcd"), "#!/bin/sh\necho hello\n", { mode: 0o755 });
    const refused = await exec("sh", [restoreScript({ etcdMinor: "", binDir: notEtcd, dataDir: path.join(work, "asked2", "x.etcd") })]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain(`cannot tell which etcd ${notEtcd}/etcd is`);
  });

  /** `etcd-cluster restore-check` with this version's tools and the test's AWS environment. */
  async function restoreCheck(...args: string[]): Promise<{ code: number; lines: string[] }> {
    const saved = { ...process.env };
    Object.assign(process.env, AWS_TEST_ENV, { ETCD_CLUSTER_AWS_CLI: AWS_CLI });
    const lines: string[] = [];
    try {
      const code = await restoreCheckCommand([...args, "--etcd-bin", binDir, "--region", "us-east-1", "--endpoint-url", s3.url], (l) =>
        lines.push(l)
      );
      return { code, lines };
    } finally {
      process.env = saved;
    }
  }

  test("GIVEN the snapshot in S3 WHEN restore-check runs THEN it is good, with its revision, cluster and the versions that can restore it", async () => {
    const { code, lines } = await restoreCheck(snapshotUri);
    expect(lines).toEqual([
      `${snapshotUri}: good`,
      expect.stringMatching(new RegExp(`^  taken \\S+ by etcd_node1 of cluster ${OLD_TOKEN}, etcd ${minor}\\.\\d+$`)),
      expect.stringMatching(
        new RegExp(
          `^  revision ${snapshotRevision}, hash \\d+, \\d+ database keys, \\d+ bytes \\(\\d+ compressed\\), SHA-256 [0-9a-f]{64}$`
        )
      ),
      `  restorable by etcd ${minor} or 3.${Number(minor.split(".")[1]) + 1} (checked with ${minor === "3.4" ? "etcdctl" : "etcdutl"})`,
    ]);
    expect(code).toBe(0);
  });

  test("GIVEN a truncated snapshot file with matching metadata WHEN restore-check runs THEN it is refused as corrupt", async () => {
    const uri = await tampered((db, metadata) => {
      const gz = gzipSync(db.subarray(0, db.length >> 1));
      return { gz, metadata: { ...metadata, sha256: createHash("sha256").update(gz).digest("hex") } };
    });
    const { code, lines } = await restoreCheck(uri);
    expect(code).toBe(1);
    expect(lines).toEqual([
      expect.stringMatching(/^etcd-cluster restore-check: refused: s3:\/\/\S+ is corrupt: etcd(ctl|utl) snapshot status: .+/),
    ]);
  });

  test("GIVEN a data directory that holds a member THEN the restore refuses to write over it", async () => {
    const result = await exec("sh", [restoreScript({ dataDir: old.dataDir })]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`${old.dataDir} already holds a member: a restore never writes over data`);
  });
});
