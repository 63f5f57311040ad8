// Backups and restores on each etcd version the suites have, on loopback: the members' etcd-backup
// of 10,000 keys of 1 KB (its duration and the compressed size uploaded to a real S3-compatible
// server), and the members' etcd-restore of that snapshot up to a healthy new member.
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { renderBackupScript } from "../lib/backup/backup-script";
import { renderRestoreScript } from "../lib/backup/restore-script";
import { ETCD_MINORS, etcdBinDir } from "../test/support/etcd-versions";
import { freePort, startLoopbackEtcd } from "../test/support/loopback-etcd";
import { execAsync, startMetricSink, startS3Server } from "../test/support/s3-server";
import { temporaryDirectory } from "../test/support/temp";
import { median, type Figure } from "./run";

function sh(file: string): Promise<string> {
  return execAsync("sh", [file]).then((r) => {
    if (r.status !== 0) throw new Error(`${file}: ${r.stderr}`);
    return r.stdout;
  });
}

export async function benchBackup(runs: number): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const minor of ETCD_MINORS) {
    let binDir: string;
    try {
      binDir = etcdBinDir(minor);
    } catch (e) {
      figures.push({ name: `backup, etcd ${minor}`, value: NaN, unit: "s", note: `skipped: ${(e as Error).message}` });
      continue;
    }
    const work = temporaryDirectory("bench-backup-");
    const [etcd, s3, cloudwatch] = await Promise.all([startLoopbackEtcd({ binDir }), startS3Server(["backups"]), startMetricSink()]);
    try {
      for (let i = 0; i < 10_000; i += 100) {
        const puts = Array.from({ length: 100 }, (_, j) => `put key/${String(i + j).padStart(5, "0")} ${randomBytes(512).toString("hex")}`);
        if (etcd.etcdctl(["txn"], `\n${puts.join("\n")}\n\n\n`).code !== 0) throw new Error("txn failed");
      }
      const backup = path.join(work, "etcd-backup");
      fs.writeFileSync(
        backup,
        renderBackupScript({
          target: { bucket: "backups", prefix: "bench", region: "us-east-1", endpointUrls: { s3: s3.url, cloudwatch: cloudwatch.url } },
          clusterToken: "etcd-0123456789abcdef",
          memberName: "etcd_node1",
          binDir,
          client: { url: etcd.clientUrl, ...etcd.tls },
          metricNamespace: "etcd-cluster",
        })
      );
      const backups: number[] = [];
      const restores: number[] = [];
      let bytes = 0;
      for (let i = 0; i < runs; i++) {
        const t = Date.now();
        const out = await sh(backup);
        backups.push((Date.now() - t) / 1000);
        const [, uri, size] = /uploaded (\S+) \(\w+; (\d+) bytes/.exec(out)!;
        bytes = Number(size);
        const [clientPort, peerPort] = [await freePort(), await freePort()];
        const peerUrl = `https://127.0.0.1:${peerPort}`;
        const dataDir = path.join(work, `restored-${i}`, "etcd_node1.etcd");
        const restore = path.join(work, "etcd-restore");
        fs.writeFileSync(
          restore,
          renderRestoreScript({
            snapshotUri: uri,
            region: "us-east-1",
            endpointUrls: { s3: s3.url },
            etcdMinor: minor,
            binDir,
            memberName: "etcd_node1",
            peerUrl,
            initialCluster: `etcd_node1=${peerUrl}`,
            clusterToken: "etcd-fedcba9876543210",
            dataDir,
            user: "root",
          })
        );
        const r = Date.now();
        await sh(restore);
        const restored = await startLoopbackEtcd({ binDir, dataDir, clientPort, peerPort, token: "etcd-fedcba9876543210" });
        restores.push((Date.now() - r) / 1000);
        await restored.stop();
      }
      figures.push(
        { name: `backup of 10k keys of 1 KB, etcd ${minor} (save, check, gzip, upload)`, value: median(backups), unit: "s" },
        { name: `backup size uploaded, etcd ${minor}`, value: bytes, unit: "bytes" },
        { name: `restore of it to a healthy member, etcd ${minor} (download, check, restore, start)`, value: median(restores), unit: "s" }
      );
    } finally {
      await Promise.all([etcd.stop(), s3.close(), cloudwatch.close()]);
      fs.rmSync(work, { recursive: true, force: true });
    }
  }
  return figures;
}
