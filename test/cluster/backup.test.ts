// What `backup` adds to the synthesized stack: the bucket and its lifecycle, each member's grant,
// and the command and systemd units in each member's user data.
import { ref } from "../../lib/cdktf";
import { memberFiles, NODE4, resources, SEED, synthCluster, userDataOf } from "../support/synth";
import { parseCloudConfig } from "../../lib/host/cloud-config";

const PREFIX = (token: string) => `etcd/${token}`;

function onlyOne(json: any, type: string): any {
  const all = Object.values(resources(json, type));
  expect(all).toHaveLength(1);
  return all[0];
}

function memberPolicies(json: any): any[] {
  return Object.values(resources(json, "aws_iam_role_policy")).filter((p: any) => String(p.name_prefix).startsWith("etcd-backup"));
}

describe("backup: {} turns scheduled snapshots on with every default", () => {
  const { json, cluster } = synthCluster({ backup: {} });
  const prefix = PREFIX(cluster.initialClusterToken);
  const bucketId = Object.keys(resources(json, "aws_s3_bucket"))[0];
  const partitionId = Object.keys(json.data.aws_partition).find((id) => id.startsWith("etcd_backup_"));

  test("THEN a bucket is created that outlives the stack, versioned, owner-enforced, with all public access blocked", () => {
    const bucket = onlyOne(json, "aws_s3_bucket");
    expect(bucket).toMatchObject({ bucket_prefix: "etcd-backups-", force_destroy: false });
    expect(onlyOne(json, "aws_s3_bucket_versioning").versioning_configuration).toEqual({ status: "Enabled" });
    expect(onlyOne(json, "aws_s3_bucket_ownership_controls").rule).toEqual({ object_ownership: "BucketOwnerEnforced" });
    expect(onlyOne(json, "aws_s3_bucket_public_access_block")).toMatchObject({
      block_public_acls: true,
      block_public_policy: true,
      ignore_public_acls: true,
      restrict_public_buckets: true,
    });
  });

  test("THEN snapshots are encrypted with SSE-KMS by default (the aws/s3 key), with a bucket key", () => {
    const [rule] = onlyOne(json, "aws_s3_bucket_server_side_encryption_configuration").rule;
    expect(rule).toEqual({ apply_server_side_encryption_by_default: { sse_algorithm: "aws:kms" }, bucket_key_enabled: true });
  });

  test("THEN the lifecycle keeps recent snapshots 7 days and daily ones 365, by tier tag under the cluster's prefix", () => {
    const lifecycle = onlyOne(json, "aws_s3_bucket_lifecycle_configuration");
    const byId = Object.fromEntries(lifecycle.rule.map((r: any) => [r.id, r]));
    expect(byId["etcd-recent-7-days"]).toMatchObject({
      status: "Enabled",
      filter: [{ and: [{ prefix: `${prefix}/`, tags: { "etcd-tier": "recent" } }] }],
      expiration: [{ days: 7 }],
    });
    expect(byId["etcd-daily-365-days"]).toMatchObject({
      filter: [{ and: [{ prefix: `${prefix}/`, tags: { "etcd-tier": "daily" } }] }],
      expiration: [{ days: 365 }],
    });
    // Versions overwritten or expired stay 30 days; nothing else under the prefix expires.
    expect(byId["etcd-old-versions-30-days"]).toMatchObject({
      filter: [{ prefix: `${prefix}/` }],
      noncurrent_version_expiration: [{ noncurrent_days: 30 }],
      expiration: [{ expired_object_delete_marker: true }],
    });
    expect(lifecycle.rule).toHaveLength(3);
  });

  test("THEN each member's role may write, tag and read only under the prefix, list only it, delete nothing, and put its metrics", () => {
    const policies = memberPolicies(json);
    expect(policies).toHaveLength(3);
    for (const policy of policies) {
      const statements = JSON.parse(policy.policy).Statement;
      const actions = statements.flatMap((s: any) => [s.Action].flat());
      expect(actions.sort()).toEqual(["cloudwatch:PutMetricData", "s3:GetObject", "s3:ListBucket", "s3:PutObject", "s3:PutObjectTagging"]);
      const objects = statements.find((s: any) => s.Sid === "WriteAndReadSnapshots");
      expect(objects.Resource).toBe(
        `arn:\${data.aws_partition.${partitionId}.partition}:s3:::\${aws_s3_bucket.${bucketId}.bucket}/${prefix}/*`
      );
      const list = statements.find((s: any) => s.Sid === "ListOwnPrefix");
      expect(list.Condition).toEqual({ StringLike: { "s3:prefix": `${prefix}/*` } });
      expect(statements.find((s: any) => s.Sid === "BackupMetrics").Condition).toEqual({
        StringEquals: { "cloudwatch:namespace": "EtcdCluster" },
      });
    }
  });

  test("THEN the backup_location output names the bucket and prefix, for backup list and restoreFrom", () => {
    expect(json.output.etcd_backup_location.value).toBe(`s3://\${aws_s3_bucket.${bucketId}.bucket}/${prefix}/`);
  });

  test("THEN each member's VM waits for its own role's backup grant", () => {
    for (const member of SEED) {
      const instance = Object.values(resources(json, "aws_instance")).find((i: any) => i.tags["etcd:member"] === member.name) as any;
      const grants = instance.depends_on.filter((d: string) => /^aws_iam_role_policy\..*etcd-backup/.test(d));
      expect(grants).toHaveLength(1);
      const grant = resources(json, "aws_iam_role_policy")[grants[0].split(".")[1]];
      expect(grant.role).toMatch(new RegExp(`^\\$\\{aws_iam_role\\.etcd_${member.name}-role_[0-9A-F]{8}\\.name\\}$`));
    }
  });

  test("THEN each member's user data installs etcd-backup, its service and a 15-minute timer, and enables the timer after the boot script", () => {
    for (const member of SEED) {
      const files = memberFiles(json, member.name);
      const command = files.get("/usr/local/sbin/etcd-backup")!;
      expect(command).toContain(`MEMBER='${member.name}'`);
      expect(command).toContain(`PREFIX='${prefix}'`);
      // The bucket's name is Terraform's to fill in (a reference to the bucket created here), in a
      // file of its own: the command itself rides gzipped, to leave room in EC2's 16 KB.
      expect(command).toContain("SETTINGS='/etc/etcd/backup.conf'");
      expect(files.get("/etc/etcd/backup.conf")).toBe(`BUCKET='\${aws_s3_bucket.${bucketId}.bucket}'\n`);
      const written = parseCloudConfig(userDataOf(json, member.name)).writeFiles!.find((f) => f.path === "/usr/local/sbin/etcd-backup");
      expect(written).toMatchObject({ compress: true, permissions: "0755" });
      expect(userDataOf(json, member.name)).toContain("encoding: gz+b64");
      expect(command).toContain("REGION=''");
      expect(files.get("/etc/systemd/system/etcd-backup.service")).toContain("ExecStart=/usr/local/sbin/etcd-backup\n");
      expect(files.get("/etc/systemd/system/etcd-backup.timer")).toContain("OnCalendar=*:0/15\n");
      expect(parseCloudConfig(userDataOf(json, member.name)).runcmd).toEqual([
        ["/usr/local/sbin/etcd-bootstrap"],
        ["systemctl", "enable", "--now", "etcd-backup.timer"],
      ]);
    }
  });
});

describe("backup with a bucket of the user's, a prefix, a KMS key and a schedule", () => {
  const KEY = "arn:aws:kms:us-east-1:111122223333:key/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b";
  const { json } = synthCluster({ backup: { bucket: "acme-etcd-backups", prefix: "prod/etcd", kmsKeyId: KEY, schedule: "hourly" } });

  test("THEN no bucket is created and the members write to that one under that prefix, with that key", () => {
    expect(resources(json, "aws_s3_bucket")).toEqual({});
    expect(resources(json, "aws_s3_bucket_lifecycle_configuration")).toEqual({});
    const command = memberFiles(json, "etcd_node1").get("/usr/local/sbin/etcd-backup")!;
    expect(memberFiles(json, "etcd_node1").get("/etc/etcd/backup.conf")).toBe("BUCKET='acme-etcd-backups'\n");
    expect(command).toContain("PREFIX='prod/etcd'");
    expect(command).toContain(`KMS_KEY_ID='${KEY}'`);
    expect(memberFiles(json, "etcd_node1").get("/etc/systemd/system/etcd-backup.timer")).toContain("OnCalendar=hourly\n");
  });

  test("THEN the member's grant names that bucket and prefix, and lets it use that key only through S3", () => {
    const statements = JSON.parse(memberPolicies(json)[0].policy).Statement;
    expect(statements.find((s: any) => s.Sid === "WriteAndReadSnapshots").Resource).toMatch(/:s3:::acme-etcd-backups\/prod\/etcd\/\*$/);
    expect(statements.find((s: any) => s.Sid === "SnapshotEncryption")).toEqual({
      Sid: "SnapshotEncryption",
      Effect: "Allow",
      Action: ["kms:GenerateDataKey", "kms:Decrypt"],
      Resource: KEY,
      Condition: { StringLike: { "kms:ViaService": "s3.*.amazonaws.com" } },
    });
  });
});

describe("backup with a bucket that is another resource's reference", () => {
  test("THEN the members' command takes Terraform's reference, and the grant names it", () => {
    const reference = ref("aws_s3_bucket.shared.bucket").toString();
    const { json } = synthCluster({ backup: { bucket: reference } });
    expect(memberFiles(json, "etcd_node2").get("/etc/etcd/backup.conf")).toBe("BUCKET='${aws_s3_bucket.shared.bucket}'\n");
    expect(JSON.parse(memberPolicies(json)[0].policy).Statement[0].Resource).toContain(":s3:::${aws_s3_bucket.shared.bucket}/");
  });
});

describe("backups before membership changes", () => {
  const commands = (json: any) =>
    Object.values(resources(json, "terraform_data")).flatMap((step: any) =>
      (step.provisioner ?? []).map((p: any) => p["local-exec"].command as string)
    );

  test("GIVEN backups and the ssm transport THEN the add and remove steps take a backup first, and promote does not", () => {
    const { json } = synthCluster({ members: [...SEED, NODE4], backup: {} });
    const all = commands(json);
    const of = (step: string) => all.filter((c) => c.includes(` ${step} --name=`));
    expect(of("add")).toHaveLength(1);
    expect(of("remove")).toHaveLength(4);
    for (const c of [...of("add"), ...of("remove")]) expect(c).toMatch(/ --backup-first=true$/);
    expect(of("promote")).toHaveLength(1);
    expect(of("promote")[0]).not.toContain("--backup-first");
  });

  test("GIVEN beforeMembershipChanges false, or no backups THEN no step takes one", () => {
    for (const props of [{ backup: { beforeMembershipChanges: false } }, {}]) {
      const { json } = synthCluster({ members: [...SEED, NODE4], ...props });
      expect(commands(json).filter((c) => c.includes("--backup-first"))).toEqual([]);
    }
  });

  test("GIVEN the direct transport THEN no step takes one", () => {
    const { json } = synthCluster({ members: [...SEED, NODE4], backup: {}, membershipTransport: "direct" });
    expect(commands(json).filter((c) => c.includes("--backup-first"))).toEqual([]);
  });
});

describe("without backup", () => {
  test("THEN nothing of S3 is synthesized and no member has a backup command", () => {
    const { json } = synthCluster();
    expect(Object.keys(json.resource).filter((type) => type.startsWith("aws_s3"))).toEqual([]);
    expect(memberPolicies(json)).toEqual([]);
    expect(memberFiles(json, "etcd_node1").has("/usr/local/sbin/etcd-backup")).toBe(false);
  });
});
