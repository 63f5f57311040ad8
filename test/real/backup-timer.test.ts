// The members' backup timer as the user data installs it, in real machines booted by real
// cloud-init and systemd, in a cluster deployed by the real Terraform, with the real AWS CLI on
// each member and a real S3 server in the lab: the command arrives intact (gzipped in the user
// data), the timer fires on its schedule on every member, only the leader uploads, one snapshot
// and its metadata per run into the bucket the construct created, and reports BackupSucceeded;
// and an upload that fails fails the unit loudly.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { parseCloudConfig } from "../../lib/host/cloud-config";
import type { Lab } from "../../lib/lab";
import { unescapeTemplate } from "../../lib/terraform-string";
import { LabProject, SEED, seedLab } from "./real-lab";

const LAB = "etcdbackup";
// Every 10 seconds: the test sees several ticks in under a minute.
const SCHEDULE = "*:*:0/10";
// No bucket given: the construct creates one, and the lab's provider makes it in the lab's S3.
const project = new LabProject(LAB, { clusterProps: { backup: { schedule: SCHEDULE } } });
let lab: Lab;
let bucket: string;

beforeAll(async () => {
  lab = await seedLab(project);
  // The timer is enabled in cloud-init's runcmd, just after etcd is healthy.
  for (const member of SEED) expect(await inMachine(member.name, "cloud-init", "status", "--wait")).toMatch(/status: done$/);
});
afterAll(() => project.remove());

async function inMachine(member: string, ...argv: string[]): Promise<string> {
  const r = await lab.machineExec(member, argv);
  return `${r.stdout}${r.stderr}`.trim();
}

/** The backup unit's runs so far, as its journal tells them (one line per message). */
async function backupJournal(member: string): Promise<string[]> {
  const text = await inMachine(member, "journalctl", "-u", "etcd-backup.service", "--no-pager", "-o", "cat");
  return text.split("\n").filter((line) => line.startsWith("etcd-backup: "));
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

test("GIVEN a deploy with backups THEN each member has the exact command, its bucket setting, and the timer enabled on the schedule", async () => {
  const stack = JSON.parse(readFileSync(join(project.stackDir, "cdk.tf.json"), "utf8"));
  for (const member of SEED) {
    // The command cloud-init wrote is the one the stack carries (decoded from gz+b64), byte for byte.
    const instance = Object.values(stack.resource.aws_instance).find((i: any) => i.tags["etcd:member"] === member.name) as any;
    const carried = parseCloudConfig(unescapeTemplate(instance.user_data)).writeFiles!.find(
      (f) => f.path === "/usr/local/sbin/etcd-backup"
    )!;
    expect(await inMachine(member.name, "sha256sum", "/usr/local/sbin/etcd-backup")).toBe(
      `${createHash("sha256").update(carried.content).digest("hex")}  /usr/local/sbin/etcd-backup`
    );
    expect(carried.content).toContain(`MEMBER='${member.name}'`);
    expect(await inMachine(member.name, "stat", "-c", "%a %U", "/usr/local/sbin/etcd-backup")).toBe("755 root");
    // The bucket's name, which Terraform knew only once the bucket existed, filled in.
    bucket = (await inMachine(member.name, "cat", "/etc/etcd/backup.conf")).replace(/^BUCKET='(.*)'$/, "$1");
    expect(bucket).toMatch(/^etcd-backups-[0-9a-z]{26}$/);
    expect(await inMachine(member.name, "systemctl", "is-enabled", "etcd-backup.timer")).toBe("enabled");
    expect(await inMachine(member.name, "systemctl", "show", "-P", "TimersCalendar", "etcd-backup.timer")).toContain(
      "OnCalendar=*-*-* *:*:00/10"
    );
  }
});

test("GIVEN the timer WHEN it fires THEN the followers stand down and the leader uploads one snapshot and its metadata per run", async () => {
  expect(await lab.s3.bucketExists(bucket)).toBe(true);
  const leader = (await lab.leader())!;
  expect(leader).toBeDefined();
  const followers = SEED.map((m) => m.name).filter((m) => m !== leader);
  const prefix = (await inMachine(leader, "sed", "-n", "s/^PREFIX='\\(.*\\)'$/\\1/p", "/usr/local/sbin/etcd-backup")).trim();
  expect(prefix).toMatch(/^etcd\/etcd-[0-9a-f]{16}$/);

  // WHEN the leader has uploaded twice, and its timer is stopped so that the count holds still
  await until(`two uploads by ${leader}`, async () => {
    const uploaded = (await backupJournal(leader)).filter((line) => line.startsWith("etcd-backup: uploaded "));
    return uploaded.length >= 2 ? uploaded : undefined;
  });
  await inMachine(leader, "systemctl", "stop", "etcd-backup.timer");
  await until("the leader's last run to end", async () =>
    (await inMachine(leader, "systemctl", "is-active", "etcd-backup.service")) === "inactive" ? true : undefined
  );
  const journal = await backupJournal(leader);
  const uploads = journal.filter((line) => line.startsWith("etcd-backup: uploaded "));
  expect(journal.filter((line) => line.startsWith("etcd-backup: failed"))).toEqual([]);
  expect(await inMachine(leader, "systemctl", "show", "-P", "Result", "etcd-backup.service")).toBe("success");

  // THEN the bucket holds, under the cluster's prefix, exactly one snapshot and one metadata object per run
  const keys = await lab.s3.listKeys(bucket, `${prefix}/`);
  const snapshots = keys.filter((k) => k.endsWith(".snapshot.db.gz"));
  const metadata = keys.filter((k) => k.endsWith(".json"));
  expect(snapshots.length).toBe(uploads.length);
  expect(keys.length).toBe(2 * uploads.length);
  expect(metadata.map((k) => k.replace(/\.json$/, ""))).toEqual(snapshots.map((k) => k.replace(/\.snapshot\.db\.gz$/, "")));
  for (const key of snapshots) expect(uploads.some((line) => line.includes(`s3://${bucket}/${key} `))).toBe(true);
  expect(snapshots.every((k) => k.includes(`-${leader}-rev`))).toBe(true);
  // AND each metadata object describes its snapshot: the SHA-256 of the upload, and a real etcd database
  for (const key of metadata) {
    const meta = JSON.parse((await lab.s3.getObject(bucket, key)).toString("utf8"));
    const snapshot = await lab.s3.getObject(bucket, `${prefix}/${meta.snapshot}`);
    expect(createHash("sha256").update(snapshot).digest("hex")).toBe(meta.sha256);
    expect(meta).toMatchObject({ format: 1, takenBy: leader, reason: "scheduled", bytes: snapshot.length });
    expect(gunzipSync(snapshot).length).toBeGreaterThan(0);
  }
  // AND the day's first snapshot is kept as "daily", the later ones as "recent"
  const tiers = await Promise.all(keys.map(async (k) => (await lab.s3.getObjectTags(bucket, k))["etcd-tier"]));
  expect(tiers.slice(0, 2)).toEqual(["daily", "daily"]);
  expect(tiers.slice(2).every((t) => t === "recent")).toBe(true);
  // AND CloudWatch got BackupSucceeded from the leader for each run
  const succeeded = lab.metrics().filter((m) => m.name === "BackupSucceeded");
  expect(succeeded.length).toBe(uploads.length);
  for (const m of succeeded) {
    expect(m).toMatchObject({
      member: leader,
      namespace: "EtcdCluster",
      value: 1,
      unit: "Count",
      dimensions: { ClusterToken: prefix.split("/")[1] },
    });
  }

  // AND each follower has said, and only said, that it is not the leader
  for (const follower of followers) {
    const lines = await backupJournal(follower);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(new Set(lines)).toEqual(new Set(["etcd-backup: not the leader: the leader takes the scheduled backup"]));
    const result = await inMachine(follower, "systemctl", "show", "-P", "Result", "etcd-backup.service");
    if (result !== "success") {
      const journal = await inMachine(follower, "journalctl", "-u", "etcd-backup.service", "--no-pager", "-n", "40");
      throw new Error(`${follower}'s last backup run ended ${result}; its journal:\n${journal}`);
    }
  }
});

// Not a second deploy (two labs do not fit this suite's time): the leader's settings file is
// pointed at a bucket that does not exist, as a bucket deleted under the cluster would be.
test("GIVEN the bucket gone WHEN the timer fires THEN the leader's upload fails its unit loudly, and the timer stays armed", async () => {
  const leader = (await lab.leader())!;
  const failedBefore = lab.metrics().filter((m) => m.name === "BackupFailed").length;
  await inMachine(leader, "sh", "-c", "echo \"BUCKET='no-such-bucket'\" >/etc/etcd/backup.conf");
  await inMachine(leader, "systemctl", "start", "etcd-backup.timer");

  const failure = await until(`a failed run on ${leader}`, async () =>
    (await backupJournal(leader)).find((line) => line.startsWith("etcd-backup: failed at "))
  );
  expect(failure).toMatch(/^etcd-backup: failed at upload: listing s3:\/\/no-such-bucket\/etcd\/etcd-[0-9a-f]{16}\/\d{8}$/);
  expect(await inMachine(leader, "journalctl", "-u", "etcd-backup.service", "--no-pager", "-o", "cat")).toContain("NoSuchBucket");
  // The line is logged just before the command exits: the unit's state follows a moment later.
  await until("the failed run to end", async () =>
    (await inMachine(leader, "systemctl", "is-failed", "etcd-backup.service")) === "failed" ? true : undefined
  );
  expect(await inMachine(leader, "systemctl", "show", "-P", "Result", "etcd-backup.service")).toBe("exit-code");
  expect(await inMachine(leader, "systemctl", "show", "-P", "ExecMainStatus", "etcd-backup.service")).toBe("1");
  expect(lab.metrics().filter((m) => m.name === "BackupFailed" && m.member === leader).length).toBeGreaterThan(failedBefore);
  // AND the next tick is the retry: the timer stays armed
  expect(await inMachine(leader, "systemctl", "is-active", "etcd-backup.timer")).toBe("active");
});
