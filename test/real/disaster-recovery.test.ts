// The disaster the backups are for, through the real Terraform in the lab: a cluster with backups
// takes 1,000 keys and a backup (real etcd, the real AWS CLI, a real S3 server), loses every
// member's data, and comes back from that snapshot with `restoreFrom`, as the README's runbook
// says: the same members at the same IPs, every key, a new cluster token.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Lab } from "../../lib/lab";
import { LabProject, record, SEED, seedLab } from "./real-lab";

const LAB = "etcddr";
// Far from any test's run: the test takes its backups itself.
const BACKUP = { schedule: "*-*-* 03:00:00" };
const project = new LabProject(LAB, { clusterProps: { backup: BACKUP } });
let lab: Lab;

beforeAll(async () => {
  lab = await seedLab(project);
});
afterAll(() => project.remove());

function stack(): any {
  return JSON.parse(readFileSync(join(project.stackDir, "cdk.tf.json"), "utf8"));
}

/** The etcdctl of a member's machine, with its own certificate, against its own loopback client URL. */
async function onMember(member: string, script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = "ETCDCTL_API=3 ETCDCTL_CACERT=/etc/etcd/ssl/ca.pem ETCDCTL_CERT=/etc/etcd/ssl/etcd.pem ETCDCTL_KEY=/etc/etcd/ssl/etcd-key.pem";
  return lab.machineExec(member, ["sh", "-c", `export ${env} ETCDCTL_ENDPOINTS=https://127.0.0.1:2379; ${script}`]);
}

test("GIVEN 1,000 keys and a backup WHEN every member's data is lost THEN a deploy with restoreFrom brings back every key in a new cluster", async () => {
  const oldToken = Object.values(stack().resource.aws_instance as Record<string, any>)[0].tags["etcd:cluster"];
  const bucket = await bucketOf();
  const prefix = `etcd/${oldToken}`;

  // GIVEN 1,000 keys, written in transactions of 100 on the leader, and the revision of the last write
  const leader = (await lab.leader())!;
  const txns = Array.from({ length: 10 }, (_, t) =>
    `printf '\\n%s\\n\\n\\n' "$(seq ${t * 100} ${t * 100 + 99} | sed 's|.*|put key/& value-&|')" | etcdctl txn >/dev/null`
  ).join(" && ");
  expect(await onMember(leader, txns)).toMatchObject({ code: 0 });
  const last = await onMember(leader, "etcdctl put key/last last -w json");
  expect(last.code).toBe(0);
  const lastRevision = Number(JSON.parse(last.stdout).header.revision);

  // WHEN the leader's backup runs (as its timer would run it)
  let t = Date.now();
  const backup = await lab.machineExec(leader, ["/usr/local/sbin/etcd-backup"]);
  record(LAB, "backup of 1,001 keys on the leader", Date.now() - t);
  expect(backup).toMatchObject({ code: 0, stderr: "" });

  // THEN exactly one snapshot and its metadata arrived, at the last write's revision or later
  const keys = await lab.s3.listKeys(bucket, `${prefix}/`);
  expect(keys).toHaveLength(2);
  const snapshotKey = keys.find((k) => k.endsWith(".snapshot.db.gz"))!;
  expect(keys).toContain(snapshotKey.replace(/\.snapshot\.db\.gz$/, ".json"));
  const metadata = JSON.parse((await lab.s3.getObject(bucket, snapshotKey.replace(/\.snapshot\.db\.gz$/, ".json"))).toString("utf8"));
  expect(metadata.revision).toBeGreaterThanOrEqual(lastRevision);
  expect(metadata).toMatchObject({ clusterToken: oldToken, takenBy: leader, reason: "scheduled" });

  // WHEN every member is stopped and its data wiped: the cluster is lost
  for (const m of SEED) await lab.stop(m.name);
  for (const m of SEED) lab.wipe(m.name);

  // AND the stack is deployed with restoreFrom that snapshot, every member's VM replaced (the runbook)
  project.synth(SEED, { restoreFrom: { snapshotUri: `s3://${bucket}/${snapshotKey}` } });
  const replace = Object.keys(stack().resource.aws_instance).map((id) => `-replace=aws_instance.${id}[0]`);
  t = Date.now();
  process.env.ETCD_CLUSTER_ABANDON = "1"; // the old members cannot confirm their removal: they have no quorum
  try {
    await lab.terraform(project.stackDir, ["apply", "-auto-approve", "-input=false", "-no-color", ...replace], { log: (line) => project.log.push(line) });
  } finally {
    delete process.env.ETCD_CLUSTER_ABANDON;
  }
  await lab.waitHealthy(undefined, 120_000);
  record(LAB, "restore deploy (3 members replaced) to all healthy", Date.now() - t);

  // THEN the restored cluster has every key, under a new token, with 3 voting members
  // (etcdctl 3.4 has no --count-only)
  const restored = await lab.etcdctl(["get", "key/", "--prefix", "--keys-only"]);
  expect(restored.stdout.split("\n").filter(Boolean)).toHaveLength(1001);
  expect((await lab.etcdctl(["get", "key/0500", "--print-value-only"])).stdout.trim()).toBe("");
  expect((await lab.etcdctl(["get", "key/500", "--print-value-only"])).stdout.trim()).toBe("value-500");
  const newToken = Object.values(stack().resource.aws_instance as Record<string, any>)[0].tags["etcd:cluster"];
  expect(newToken).not.toBe(oldToken);
  for (const m of SEED) {
    const conf = await lab.machineExec(m.name, ["cat", "/etc/etcd/etcd.conf"]);
    expect(conf.stdout).toContain(`ETCD_INITIAL_CLUSTER_TOKEN="${newToken}"`);
    const journal = await lab.machineExec(m.name, ["grep", "etcd-restore: restored", "/var/log/cloud-init-output.log"]);
    expect(journal.stdout).toContain(`etcd-restore: restored ${m.name} from s3://${bucket}/${snapshotKey}`);
  }
  const members = JSON.parse((await lab.etcdctl(["member", "list", "-w", "json"])).stdout.replace(/"ID":(\d+)/g, '"ID":"$1"'));
  expect(members.members.map((m: any) => [m.name, m.isLearner ?? false]).sort()).toEqual(SEED.map((m) => [m.name, false]));
  // AND its revision is past the old one's (bumped by a billion where etcdutl restores, from 3.5 on)
  const status = JSON.parse((await lab.etcdctl(["endpoint", "status", "-w", "json"])).stdout);
  for (const s of status) expect(s.Status.header.revision).toBeGreaterThanOrEqual(lastRevision);
});

/** The backup bucket the lab created for the stack, from Terraform's state. */
async function bucketOf(): Promise<string> {
  const state = JSON.parse(readFileSync(project.stateFile, "utf8"));
  const bucket = state.resources.find((r: any) => r.type === "aws_s3_bucket");
  return bucket.instances[0].attributes.bucket;
}
