import * as fs from "node:fs";
import * as path from "node:path";
import { DataAwsAmi } from "@cdktf/provider-aws/lib/data-aws-ami";
import { DataAwsAvailabilityZones } from "@cdktf/provider-aws/lib/data-aws-availability-zones";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { EtcdCluster, EtcdClusterConfigError, type EtcdClusterProps } from "../../lib";
import { Fn, TerraformStack, Testing } from "../../lib/cdktf";
import { FIXTURE_PKI, SEED, synthCluster, tempPki } from "../support/synth";

const m = (name: string, privateIp: string) => ({ name, privateIp });

describe("bad props fail at synth with the field, the value and the fix, and nothing is written", () => {
  test.each<[string, Partial<EtcdClusterProps>, RegExp]>([
    ["no members", { members: [] }, /members is \[\]: give at least one member, e.g. \[\{ name: "etcd_node1"/],
    [
      "a duplicate name",
      { members: [SEED[0], m("etcd_node1", "172.16.0.102")] },
      /members\[1\]\.name is "etcd_node1", already used by members\[0\]: give each member its own name/,
    ],
    [
      "a duplicate IP",
      { members: [SEED[0], m("etcd_node2", "172.16.0.101")] },
      /members\[1\]\.privateIp is "172\.16\.0\.101", already used by members\[0\] \(etcd_node1\)/,
    ],
    [
      "an IP outside the subnet",
      { members: [m("etcd_node1", "172.16.1.5")] },
      /members\[0\]\.privateIp is "172\.16\.1\.5" but it is outside the default subnet "172\.16\.0\.0\/24": pick an address from 172\.16\.0\.4 to 172\.16\.0\.254/,
    ],
    [
      "AWS's router address",
      { members: [m("etcd_node1", "172.16.0.1")] },
      /members\[0\]\.privateIp is "172\.16\.0\.1", which AWS reserves/,
    ],
    ["AWS's reserved .3", { members: [m("etcd_node1", "172.16.0.3")] }, /members\[0\]\.privateIp is "172\.16\.0\.3", which AWS reserves/],
    ["the broadcast address", { members: [m("etcd_node1", "172.16.0.255")] }, /"172\.16\.0\.255", which AWS reserves/],
    ["not an IP", { members: [m("etcd_node1", "172.16.0.300")] }, /members\[0\]\.privateIp is "172\.16\.0\.300": give an IPv4 address/],
    [
      "a name etcd's INITIAL_CLUSTER cannot carry",
      { members: [m("node=1", "172.16.0.101")] },
      /members\[0\]\.name is "node=1": use 1-63 letters, digits, "_" or "-"/,
    ],
    ["a name with a comma", { members: [m("a,b", "172.16.0.101")] }, /members\[0\]\.name is "a,b"/],
    [
      "a name the PKI uses",
      { members: [m("admin", "172.16.0.101")] },
      /members\[0\]\.name is "admin", but its admin\.pem in the PKI directory is the admin certificate's: pick another name/,
    ],
    [
      "the CA's name in capitals",
      { members: [m("CA", "172.16.0.101")] },
      /members\[0\]\.name is "CA", but its CA\.pem in the PKI directory is the CA's/,
    ],
    ["the CA key's name", { members: [m("ca-key", "172.16.0.101")] }, /members\[0\]\.name is "ca-key", but its ca-key\.pem .* is the CA's/],
    [
      "the admin key's name",
      { members: [m("admin-key", "172.16.0.101")] },
      /"admin-key", but its admin-key\.pem .* the admin certificate's/,
    ],
    [
      "a member named after another's key file",
      { members: [m("m1", "172.16.0.101"), m("m1-key", "172.16.0.102")] },
      /members\[1\]\.name is "m1-key", but its m1-key\.pem in the PKI directory is members\[0\] \(m1\)'s: pick another name/,
    ],
    [
      "names that differ only in case",
      { members: [SEED[0], m("ETCD_NODE1", "172.16.0.102")] },
      /members\[1\]\.name is "ETCD_NODE1", which differs from members\[0\]'s "etcd_node1" only in case/,
    ],
    [
      "a cluster token SSM refuses to start a parameter name with",
      { initialClusterToken: "aws-prod" },
      /initialClusterToken is "aws-prod", which starts each member's SSM key parameter name, and "\/aws-prod\/etcd_node1" must not start with "aws" or "ssm", which SSM reserves: pick another token/,
    ],
    [
      "a client network listed twice",
      { clientCidrs: ["10.0.0.0/16", "10.0.0.0/16"] },
      /clientCidrs\[1\] is "10\.0\.0\.0\/16", already listed as clientCidrs\[0\]: list each network once/,
    ],
    [
      "an SSH network listed twice",
      { sshCidrs: ["10.0.0.0/8", "10.0.0.0/8"] },
      /sshCidrs\[1\] is "10\.0\.0\.0\/8", already listed as sshCidrs\[0\]/,
    ],
    ["a CA validity of 0 days", { pki: { caValidityDays: 0 } }, /pki\.caValidityDays is 0: give a whole number of days from 1 to 36500/],
    ["a certificate validity of 1.5 days", { pki: { certificateValidityDays: 1.5 } }, /pki\.certificateValidityDays is 1\.5/],
    [
      "a PKI path Terraform would read as an expression",
      { pki: { directory: "/tmp/${x}" } },
      /pki\.directory is "\/tmp\/\$\{x\}": it must not contain/,
    ],
    ["an unknown key delivery", { keyDelivery: "s3" as "ssm" }, /keyDelivery is "s3": use "ssm" \(the default\) or "user-data"/],
    [
      "a KMS key with user-data delivery",
      { keyDelivery: "user-data", kmsKeyId: "alias/etcd" },
      /kmsKeyId is "alias\/etcd" but keyDelivery is "user-data"/,
    ],
    [
      "an unknown membership transport",
      { membershipTransport: "ssh" as "ssm" },
      /membershipTransport is "ssh": use "ssm" \(the default: Run Command on a member, from anywhere with AWS credentials\) or "direct"/,
    ],
    ["ssmVpcEndpoints as a string", { ssmVpcEndpoints: "yes" as unknown as boolean }, /ssmVpcEndpoints is "yes": give true or false/],
    ["backup as true", { backup: true as unknown as {} }, /backup is true: give an object such as \{\} \(every default\)/],
    [
      "a backup schedule that would break the timer unit",
      { backup: { schedule: "hourly\nExecStart=/bin/evil" } },
      /backup\.schedule is "hourly\\nExecStart=\/bin\/evil": give a systemd OnCalendar expression such as "\*:0\/15"/,
    ],
    [
      "an uppercase bucket name",
      { backup: { bucket: "Etcd_Backups" } },
      /backup\.bucket is "Etcd_Backups": give an S3 bucket name \(3-63 lowercase/,
    ],
    [
      "a prefix with a trailing slash",
      { backup: { prefix: "etcd/prod/" } },
      /backup\.prefix is "etcd\/prod\/": give "\/"-separated segments .*without a leading or trailing "\/"/,
    ],
    ["an empty backup KMS key", { backup: { kmsKeyId: " " } }, /backup\.kmsKeyId is " ": give a KMS key id, ARN or alias/],
    [
      "zero recent days",
      { backup: { retention: { recentDays: 0 } } },
      /backup\.retention\.recentDays is 0: give whole days from 1 to 3650/,
    ],
    [
      "daily snapshots kept less than recent ones",
      { backup: { retention: { recentDays: 14, dailyDays: 7 } } },
      /backup\.retention\.dailyDays is 7, shorter than recentDays 14: .*give dailyDays of at least 14/,
    ],
    [
      "retention for a bucket the user brings",
      { backup: { bucket: "acme-etcd", retention: { dailyDays: 30 } } },
      /backup\.retention is given with backup\.bucket "acme-etcd": a bucket you bring keeps its own lifecycle rules/,
    ],
    [
      "a snapshot URI that is no snapshot",
      { restoreFrom: { snapshotUri: "s3://acme/etcd/x.db" } },
      /restoreFrom\.snapshotUri is "s3:\/\/acme\/etcd\/x\.db": give the s3:\/\/ URI of a snapshot as etcd-backup uploads it, ending in \.snapshot\.db\.gz/,
    ],
    [
      "a restore region that is a zone",
      { restoreFrom: { snapshotUri: "s3://acme/a.snapshot.db.gz", region: "us-east-1a" } },
      /restoreFrom\.region is "us-east-1a": give an AWS region such as "us-east-1"/,
    ],
    [
      "a KMS alias for the restore",
      { restoreFrom: { snapshotUri: "s3://acme/a.snapshot.db.gz", kmsKeyArn: "alias/etcd" } },
      /restoreFrom\.kmsKeyArn is "alias\/etcd": give the ARN of the KMS key/,
    ],
    [
      "a restore under the snapshot's own token",
      {
        initialClusterToken: "prod-etcd",
        restoreFrom: { snapshotUri: "s3://acme/etcd/prod-etcd/20261203T081228Z-etcd_node1-rev11.snapshot.db.gz" },
      },
      /restoreFrom\.snapshotUri "s3:\/\/acme\/etcd\/prod-etcd\/\S+" is under prod-etcd\/, and initialClusterToken is "prod-etcd": a restored cluster needs a token of its own/,
    ],
    [
      "a separate WAL directory for a restore",
      { restoreFrom: { snapshotUri: "s3://acme/a.snapshot.db.gz" }, tuning: { extraSettings: { ETCD_WAL_DIR: "/var/lib/etcd-wal" } } },
      /tuning\.extraSettings\.ETCD_WAL_DIR is "\/var\/lib\/etcd-wal" with restoreFrom: a restore writes the WAL inside the data directory/,
    ],
    [
      "backups before membership changes with the direct transport",
      { membershipTransport: "direct", backup: { beforeMembershipChanges: true } },
      /backup\.beforeMembershipChanges is true but membershipTransport is "direct": the backup runs on a member through SSM Run Command/,
    ],
    [
      "AWS's metric namespace",
      { backup: { metricNamespace: "AWS/etcd" } },
      /backup\.metricNamespace is "AWS\/etcd": .*not starting with "AWS\/"/,
    ],
    ["vpcId without subnetId", { vpcId: "vpc-1" }, /vpcId is "vpc-1" but subnetId is missing/],
    [
      "a subnet outside the VPC",
      { vpcCidr: "10.0.0.0/16" },
      /subnetCidr is "172\.16\.0\.0\/24" but it is not inside vpcCidr "10\.0\.0\.0\/16"/,
    ],
    [
      "host bits in a CIDR",
      { subnetCidr: "172.16.0.5/24" },
      /subnetCidr is "172\.16\.0\.5\/24": give a network in CIDR form with its host bits zero/,
    ],
    ["a bad client CIDR", { clientCidrs: ["10.0.0.0/33"] }, /clientCidrs\[0\] is "10\.0\.0\.0\/33"/],
    ["a malformed AMI id", { ami: "ubuntu-22.04" }, /ami is "ubuntu-22\.04": give an AMI id such as "ami-0abcdef1234567890"/],
    ["a region for a zone", { availabilityZone: "us-east-1" }, /availabilityZone is "us-east-1": give a zone name such as "us-east-1a"/],
    ["a bad instance type", { instanceType: "large" }, /instanceType is "large": give an EC2 instance type such as "t3\.small"/],
    ["a tiny root volume", { rootVolumeSizeGiB: 2 }, /rootVolumeSizeGiB is 2: give a whole number of GiB from 8 to 16384/],
    [
      "a data volume as a string",
      { dataVolume: "gp3" as unknown as {} },
      /dataVolume is "gp3": give an object such as \{ sizeGiB: 20 \}, \{\} for the defaults, or false/,
    ],
    [
      "a data volume of 0 GiB",
      { dataVolume: { sizeGiB: 0 } },
      /dataVolume\.sizeGiB is 0: give a whole number of GiB from 1 to 16384 \(gp3\)/,
    ],
    ["a data volume of 1.5 GiB", { dataVolume: { sizeGiB: 1.5 } }, /dataVolume\.sizeGiB is 1\.5: give a whole number/],
    [
      "data volume IOPS below gp3's",
      { dataVolume: { iops: 100 } },
      /dataVolume\.iops is 100: give a whole number from 3000 to 16000 \(gp3\)/,
    ],
    [
      "more IOPS than the size allows",
      { dataVolume: { sizeGiB: 10, iops: 6000 } },
      /dataVolume\.iops is 6000 on 10 GiB: gp3 allows at most 500 IOPS per GiB; give sizeGiB 12 or more, or fewer IOPS/,
    ],
    [
      "data volume throughput below gp3's",
      { dataVolume: { throughputMiBps: 100 } },
      /dataVolume\.throughputMiBps is 100: give a whole number of MiB\/s from 125 to 1000/,
    ],
    [
      "more throughput than the IOPS allow",
      { dataVolume: { throughputMiBps: 1000 } },
      /dataVolume\.throughputMiBps is 1000 with 3000 IOPS: gp3 allows at most IOPS \/ 4 MiB\/s; give iops 4000 or more, or less throughput/,
    ],
    [
      "an unknown onDestroy",
      { dataVolume: { onDestroy: "keep" as "retain" } },
      /dataVolume\.onDestroy is "keep": use "snapshot" \(the default: a final snapshot first\), "retain"/,
    ],
    [
      "a bare KMS key id for the volumes",
      { dataVolume: { kmsKeyId: "1234abcd-12ab-34cd-56ef-1234567890ab" } },
      /dataVolume\.kmsKeyId is "1234abcd-.*": give a KMS key ARN/,
    ],
    ["a bad cluster token", { initialClusterToken: "a b" }, /initialClusterToken is "a b"/],
    ["a small key", { pki: { keySize: 1024 as 2048 } }, /pki\.keySize is 1024: use 2048, 3072 or 4096/],
    [
      "election below 5 x heartbeat",
      { tuning: { heartbeatIntervalMs: 100, electionTimeoutMs: 300 } },
      /tuning\.electionTimeoutMs is 300 but must be at least 5 x tuning\.heartbeatIntervalMs \(100\) = 500/,
    ],
    ["an unknown etcd setting", { tuning: { extraSettings: { ETCD_MADE_UP: "1" } } }, /tuning\.extraSettings.*ETCD_MADE_UP/],
    [
      "initialCorruptCheck with a package install",
      { install: { source: "package" }, tuning: { initialCorruptCheck: true } },
      /tuning\.initialCorruptCheck is set with a package install, whose etcd version .* is not known at synth: use a release install/,
    ],
    [
      "initialCorruptCheck as a string",
      { tuning: { initialCorruptCheck: "yes" as unknown as boolean } },
      /tuning\.initialCorruptCheck is "yes" but must be true or false/,
    ],
    ["AUTO_TLS beside real certificates", { tuning: { extraSettings: { ETCD_AUTO_TLS: "true" } } }, /ETCD_AUTO_TLS/],
    // Each of these would otherwise reach etcd.conf's renderer, whose own check a user must never see.
    [
      "an extra setting for a key the library sets",
      { tuning: { extraSettings: { ETCD_NAME: "other" } } },
      /tuning\.extraSettings\.ETCD_NAME .*is refused/,
    ],
    ["an extra setting with a $", { tuning: { extraSettings: { ETCD_LOG_OUTPUTS: "$HOME" } } }, /tuning\.extraSettings\.ETCD_LOG_OUTPUTS/],
    ["an empty extra setting", { tuning: { extraSettings: { ETCD_LOG_OUTPUTS: "" } } }, /tuning\.extraSettings\.ETCD_LOG_OUTPUTS/],
    ["an unpinned etcd version without checksum", { install: { version: "v3.6.99" } }, /install\.(version|sha256).*v3\.6\.99/],
    ["a join timeout too short", { joinTimeoutSeconds: 5 }, /joinTimeoutSeconds is 5: give a whole number of seconds from 30 to 86400/],
  ])("GIVEN %s THEN synth throws EtcdClusterConfigError", (_, props, message) => {
    // GIVEN an empty PKI directory (a PKI path of the props' own stays out of it)
    const pkiDirectory = props.pki?.directory ?? tempPki("empty");
    // WHEN / THEN
    let error: unknown;
    try {
      synthCluster(props, { pkiDirectory });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(EtcdClusterConfigError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toMatch(/^EtcdCluster test\/etcd: \d+ problem\(s\) in its configuration, nothing was synthesized:/);
    expect(fs.existsSync(pkiDirectory) ? fs.readdirSync(pkiDirectory) : []).toEqual([]);
  });

  test("GIVEN several problems THEN all are reported at once, each with its property path", () => {
    let error: EtcdClusterConfigError | undefined;
    try {
      synthCluster(
        { members: [m("etcd_node1", "1.2.3.4"), m("etcd_node1", "172.16.0.1")], instanceType: "large" },
        { pkiDirectory: tempPki("empty") }
      );
    } catch (e) {
      error = e as EtcdClusterConfigError;
    }
    expect(error).toBeInstanceOf(EtcdClusterConfigError);
    expect(error!.message).toMatch(/4 problem\(s\)/);
    expect(error!.details.map((p) => p.path)).toEqual(["members[0].privateIp", "members[1].privateIp", "members[1].name", "instanceType"]);
    expect(error!.problems).toEqual(error!.details.map((p) => p.message));
  });

  test("GIVEN a PKI directory whose CA has lost its key THEN the problem is pki.directory's, naming the file and the fix", () => {
    const pkiDirectory = tempPki("empty");
    fs.copyFileSync(path.join(FIXTURE_PKI, "ca.pem"), path.join(pkiDirectory, "ca.pem"));
    let error: EtcdClusterConfigError | undefined;
    try {
      synthCluster({}, { pkiDirectory });
    } catch (e) {
      error = e as EtcdClusterConfigError;
    }
    expect(error).toBeInstanceOf(EtcdClusterConfigError);
    expect(error!.details).toEqual([
      { path: "pki.directory", message: expect.stringMatching(/^pki\.directory: .*ca-key\.pem is missing, but .*ca\.pem exists/) },
    ]);
    expect(fs.readdirSync(pkiDirectory)).toEqual(["ca.pem"]);
  });

  test("GIVEN user data over EC2's 16,384 bytes THEN synth says which member and how to shrink it, and writes nothing", () => {
    const extraSans = Array.from({ length: 200 }, (_, i) => `name-${i}-${"x".repeat(50)}.example.internal`);
    const pkiDirectory = tempPki("empty");
    expect(() => synthCluster({ members: [{ ...SEED[0], extraSans }] }, { pkiDirectory })).toThrow(
      /members\[0\] \(etcd_node1\): its user data is \d+ bytes, over EC2's limit of 16384: shorten/
    );
    expect(fs.readdirSync(pkiDirectory)).toEqual([]);
  });
});

test("GIVEN an AMI and a zone from other resources (tokens) THEN they pass through to Terraform unchecked", () => {
  const app = Testing.app();
  const stack = new TerraformStack(app, "tokens");
  new AwsProvider(stack, "aws", { region: "us-east-1" });
  const ami = new DataAwsAmi(stack, "ami", { mostRecent: true, owners: ["self"] });
  const zones = new DataAwsAvailabilityZones(stack, "zones", {});
  new EtcdCluster(stack, "etcd", {
    members: SEED,
    ami: ami.id,
    availabilityZone: Fn.element(zones.names, 0),
    pki: { directory: tempPki() },
  });
  const json = JSON.parse(Testing.synth(stack));
  expect(Object.values(json.resource.aws_instance as Record<string, any>)[0].ami).toBe("${data.aws_ami.ami.id}");
});

describe("allowed but unwise props synthesize with a warning", () => {
  const warnings = (props: Partial<EtcdClusterProps>) => {
    const { cluster } = synthCluster(props);
    return cluster.node.metadata.filter((e) => e.type === "@cdktf/warn").map((e) => String(e.data));
  };

  test("GIVEN dataVolume false THEN a warning says a replaced VM loses its member", () => {
    expect(warnings({ dataVolume: false })).toEqual([
      expect.stringMatching(
        /^EtcdCluster test\/etcd: dataVolume is false: etcd's data is on each VM's root volume, so a VM replaced .* loses its member/
      ),
    ]);
  });

  test("GIVEN onDestroy delete THEN a warning says the data then lives only in backups", () => {
    expect(warnings({ dataVolume: { onDestroy: "delete" } })).toEqual([
      expect.stringMatching(/dataVolume\.onDestroy is "delete": .* with no snapshot/),
    ]);
  });

  test("GIVEN 4 members THEN a warning explains an even count tolerates no more failures than 3", () => {
    expect(warnings({ members: [...SEED, m("etcd_node4", "172.16.0.104")] })).toEqual([
      expect.stringMatching(
        /the cluster has 4 members: an even count tolerates no more failures than 3 \(quorum is 3\); use an odd number/
      ),
    ]);
  });

  test("GIVEN 9 members THEN a warning says more than 7 slows writes", () => {
    const nine = Array.from({ length: 9 }, (_, i) => m(`n${i + 1}`, `172.16.0.${101 + i}`));
    expect(warnings({ members: nine })).toEqual([expect.stringMatching(/the cluster has 9 members: .* more than 7 slows writes/)]);
  });

  test("GIVEN the seed's 3 members THEN there is no warning", () => {
    expect(warnings({})).toEqual([]);
  });

  test("GIVEN the ssm membership transport and a custom AMI THEN a warning says the AMI must run the SSM agent", () => {
    expect(warnings({ ami: "ami-0abcdef1234567890" })).toEqual([
      expect.stringMatching(/membershipTransport is "ssm" with a custom ami: .*must run the SSM agent.*or use "direct"/),
    ]);
    expect(warnings({ ami: "ami-0abcdef1234567890", membershipTransport: "direct" })).toEqual([]);
  });

  test("GIVEN backups and the direct transport THEN a warning says membership changes take no backup first", () => {
    expect(warnings({ membershipTransport: "direct", backup: {} })).toEqual([
      expect.stringMatching(/backup is on with membershipTransport "direct": deploys that add or remove a member take no backup first/),
    ]);
    expect(warnings({ membershipTransport: "direct", backup: { beforeMembershipChanges: false } })).toEqual([]);
  });

  test("GIVEN backups and a custom AMI THEN a warning says the AMI needs the AWS CLI for them", () => {
    expect(warnings({ ami: "ami-0abcdef1234567890", membershipTransport: "direct", backup: { beforeMembershipChanges: false } })).toEqual([
      expect.stringMatching(/backup is on with a custom ami: .*needs the AWS CLI, gzip and curl/),
    ]);
  });

  test("GIVEN SSM endpoints that nothing uses THEN a warning says to drop them", () => {
    expect(warnings({ ssmVpcEndpoints: true, keyDelivery: "user-data", membershipTransport: "direct" })).toEqual([
      expect.stringMatching(/keyDelivery is "user-data"/),
      expect.stringMatching(/ssmVpcEndpoints is true but neither keyDelivery nor membershipTransport is "ssm": .*drop ssmVpcEndpoints/),
    ]);
  });
});
