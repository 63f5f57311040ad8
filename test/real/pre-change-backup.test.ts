// The backup before a membership change, through the real Terraform in the lab: adding etcd_node4
// first takes a snapshot on a member through Run Command (the real etcd-backup, the real AWS CLI,
// the lab's S3); when that backup fails, the remove that follows changes nothing.
import { readFileSync } from "node:fs";
import type { Lab } from "../../lib/lab";
import { memberList, NODE4, SEED, useSeedLab } from "./real-lab";

const LAB = "etcdprechange";
// The timer stays out of the way: the only snapshots are the ones the membership steps take.
const seed = useSeedLab(LAB, { clusterProps: { backup: { schedule: "*-*-* 03:00:00" } } });
let lab: Lab;

beforeAll(() => {
  lab = seed.lab;
});

async function bucketAndPrefix(): Promise<{ bucket: string; prefix: string }> {
  const state = JSON.parse(readFileSync(seed.project.stateFile, "utf8"));
  const bucket = state.resources.find((r: any) => r.type === "aws_s3_bucket").instances[0].attributes.bucket;
  const token = state.resources.find((r: any) => r.type === "aws_instance").instances[0].attributes.tags["etcd:cluster"];
  return { bucket, prefix: `etcd/${token}/` };
}

test("GIVEN backups WHEN node4 is added THEN a daily snapshot, taken before the member add, is in S3 with its reason", async () => {
  const { bucket, prefix } = await bucketAndPrefix();
  expect(await lab.s3.listKeys(bucket, prefix)).toEqual([]);

  const mark = seed.project.log.length;
  seed.project.synth([...SEED, NODE4]);
  await seed.project.deploy();
  const log = seed.project.log.slice(mark);

  const backedUp = log.findIndex((l) => /\[etcd add\] backed up first, on i-\w+: etcd-backup: uploaded s3:\/\/\S+ \(daily; /.test(l));
  const added = log.findIndex((l) => /\[etcd add\] added etcd_node4 \(https:\/\/172\.16\.0\.104:2380\) as learner/.test(l));
  expect(backedUp).toBeGreaterThanOrEqual(0);
  expect(added).toBeGreaterThan(backedUp);
  const keys = await lab.s3.listKeys(bucket, prefix);
  expect(keys).toHaveLength(2);
  const metadataKey = keys.find((k) => k.endsWith(".json"))!;
  const metadata = JSON.parse((await lab.s3.getObject(bucket, metadataKey)).toString("utf8"));
  expect(metadata.reason).toBe("adding etcd_node4 (https://172.16.0.104:2380)");
  // Taken before the add: the member list in it has the seed's three members only.
  expect(metadata.memberList.members.map((m: { name: string }) => m.name).sort()).toEqual(SEED.map((m) => m.name));
  expect(await lab.s3.getObjectTags(bucket, metadataKey)).toEqual({ "etcd-tier": "daily" });
});

test("GIVEN every member's backup failing WHEN node4 is removed THEN the deploy fails naming the backup's error, and node4 is still a member", async () => {
  // GIVEN each member's backups pointed at a bucket that does not exist
  for (const m of [...SEED, NODE4]) {
    expect(await lab.machineExec(m.name, ["sh", "-c", "echo BUCKET=no-such-bucket > /etc/etcd/backup.conf"])).toMatchObject({ code: 0 });
  }
  // WHEN the synth with node4 removed is deployed
  const mark = seed.project.log.length;
  seed.project.synth([...SEED, { ...NODE4, removed: true }]);
  await expect(seed.project.deploy()).rejects.toThrow();
  const log = seed.project.log.slice(mark).join("\n");
  // THEN the remove step said why, and changed nothing
  expect(log).toMatch(
    /\[etcd remove\] failed: the backup before removing etcd_node4 \(https:\/\/172\.16\.0\.104:2380\) failed on i-\w+ \(exit 1\): .*failed at upload.*Nothing was changed/
  );
  expect(log).not.toMatch(/\[etcd remove\] removed etcd_node4/);
  const members = await memberList(lab);
  expect(members.map((m) => m.name).sort()).toEqual([...SEED.map((m) => m.name), NODE4.name].sort());
  expect(lab.isRunning(NODE4.name)).toBe(true);
});
