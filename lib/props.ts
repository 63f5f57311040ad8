import type { EtcdTuning } from "./etcd/tuning";

/** One etcd member: a VM with a static private IP. */
export interface EtcdMemberProps {
  /**
   * The member's etcd name (`ETCD_NAME`), also its certificate's file name in the PKI directory
   * and the instance's `Name` tag. Letters, digits, `_` and `-`.
   */
  readonly name: string;

  /** The member's static private IPv4 address, inside its subnet. */
  readonly privateIp: string;

  /**
   * Subnet for this member, to spread members over availability zones.
   * The IP must lie inside it; give `subnetCidr` so that can be checked at synth time.
   * @default the cluster's subnet
   */
  readonly subnetId?: string;

  /**
   * CIDR of `subnetId`, used to check `privateIp` at synth time.
   * @default no check when `subnetId` is given without it
   */
  readonly subnetCidr?: string;

  /**
   * etcd's `initial-cluster-state`: "new" for the members that bootstrap the cluster together,
   * "existing" for a member that joins a running cluster (it is registered with `member add`
   * as a learner first, then booted, then promoted).
   * @default "new"
   */
  readonly initialClusterState?: "new" | "existing";

  /**
   * Take the member out: `member remove` runs while its VM is still up, then the VM is destroyed.
   * Keep the entry until that deploy has run; it may be deleted from the list afterwards.
   * @default false
   */
  readonly removed?: boolean;

  /**
   * For a joining member: stop after phase 1. The member is registered as a learner (`member list`
   * shows it unstarted, as in the recipe) but no VM is launched and nothing is promoted; set it back
   * to false and deploy again to launch it. Only the last joining member may be register-only,
   * since etcd takes one learner at a time.
   * @default false
   */
  readonly registerOnly?: boolean;

  /**
   * Extra subject alternative names for this member's certificate (DNS names or IPs),
   * e.g. a DNS name clients use. The member IP, 127.0.0.1 and localhost are always included.
   * @default none
   */
  readonly extraSans?: string[];
}

/** Where etcd comes from on the VM. */
export interface EtcdInstallOptions {
  /**
   * "release": the official release tarball, its SHA-256 checked before unpacking.
   * "package": the distribution's package, as the seed's `yum install etcd` does
   * (version is then whatever the distribution ships).
   * @default "release"
   */
  readonly source?: "release" | "package";

  /**
   * etcd release version for `source: "release"`. Versions with a pinned checksum in this library:
   * see `ETCD_RELEASES`. Any other version needs `sha256`.
   * @default "v3.6.14"
   */
  readonly version?: string;

  /**
   * SHA-256 of `etcd-<version>-linux-<arch>.tar.gz`, for versions this library does not pin.
   * @default the pinned checksum of `version`
   */
  readonly sha256?: string;

  /**
   * Base URL the tarball is fetched from: `<mirrorUrl>/<version>/etcd-<version>-linux-<arch>.tar.gz`.
   * Use it for networks that cannot reach GitHub.
   * @default "https://github.com/etcd-io/etcd/releases/download"
   */
  readonly mirrorUrl?: string;

  /**
   * Package name for `source: "package"`.
   * @default "etcd"
   */
  readonly packageName?: string;
}

/** The PKI directory: CA, member and admin certificates in cfssl's file naming. */
export interface EtcdPkiOptions {
  /**
   * Directory holding ca.pem, ca-key.pem, `<member>.pem`, `<member>-key.pem`, admin.pem, admin-key.pem.
   * Created on first synth, reused after. Put an existing cfssl CA (ca.pem + ca-key.pem, RSA) here to use it.
   * Keep it out of version control: it holds the CA private key.
   * @default ".etcd-pki/<construct path>" under the current working directory
   */
  readonly directory?: string;

  /**
   * RSA key size for keys this library generates.
   * @default 2048
   */
  readonly keySize?: 2048 | 3072 | 4096;

  /**
   * Validity of a CA this library creates, in days.
   * @default 3650
   */
  readonly caValidityDays?: number;

  /**
   * Validity of member and admin certificates, in days.
   * @default 825
   */
  readonly certificateValidityDays?: number;

  /**
   * Where the certificates come from. "directory": the PKI in `directory`, created on first synth.
   * "test": an INSECURE PKI derived from `testSeed`, the same on every machine and run, reading and
   * writing nothing, for snapshot tests. Outside cdktf's `Testing.app()` it is refused unless the app
   * context "etcd-cluster:allowTestPki" is true, and `terraform plan` of a stack holding it always fails.
   * @default "test" under cdktf's Testing.app() (or when `testSeed` is given), "directory" otherwise
   */
  readonly source?: "directory" | "test";

  /**
   * Seed of the test PKI (`source: "test"`). Its keys, serials and dates follow from it alone.
   * @default "cdktf-etcd-cluster insecure test PKI"
   */
  readonly testSeed?: string;
}

/** Snapshots of the cluster to S3 (see the README, "Backups and disaster recovery"). */
export interface EtcdBackupOptions {
  /**
   * When the members' timer fires, as systemd's OnCalendar. Every member has the timer; only the
   * one that leads at that moment takes the snapshot.
   * @default "*:0/15" (every 15 minutes)
   */
  readonly schedule?: string;

  /**
   * An existing bucket (a name, or another resource's reference) to keep the snapshots in. Its
   * versioning, encryption and lifecycle are then its owner's to set.
   * @default a bucket this construct creates: versioned, public access blocked, SSE-KMS, expiring by `retention`
   */
  readonly bucket?: string;

  /**
   * Key prefix of this cluster's snapshots, without a leading or trailing "/". The members may
   * write only under it.
   * @default "etcd/<initialClusterToken>"
   */
  readonly prefix?: string;

  /**
   * KMS key (id, ARN or alias) the snapshots are encrypted with (SSE-KMS). A customer-managed key's
   * policy must let the members' roles use it through S3.
   * @default the account's AWS-managed aws/s3 key
   */
  readonly kmsKeyId?: string;

  /**
   * How long a bucket this construct creates keeps snapshots: every snapshot for `recentDays`, the
   * first of each UTC day for `dailyDays`.
   * @default { recentDays: 7, dailyDays: 365 }
   */
  readonly retention?: { readonly recentDays?: number; readonly dailyDays?: number };

  /**
   * Take a backup (on a member, through SSM Run Command) before each deploy that adds or removes a
   * member, and stop that deploy, with nothing changed, if the backup fails. Needs the "ssm"
   * membership transport.
   * @default true with membershipTransport "ssm"; false (with a warning) with "direct"
   */
  readonly beforeMembershipChanges?: boolean;

  /**
   * CloudWatch namespace of the BackupSucceeded, BackupFailed and SnapshotBytes metrics (dimension
   * ClusterToken), for an alarm on a backup that failed or stopped arriving.
   * @default "EtcdCluster"
   */
  readonly metricNamespace?: string;
}

/** A new cluster bootstrapped from one snapshot (see the README's disaster-recovery runbook). */
export interface EtcdRestoreOptions {
  /**
   * The snapshot, as etcd-backup uploaded it: `s3://<bucket>/<key>.snapshot.db.gz`, with its
   * `.json` metadata beside it. Every bootstrap member restores this one snapshot at its VM's first
   * boot, under a new cluster token; members that join later sync from them.
   */
  readonly snapshotUri: string;

  /**
   * The snapshot bucket's region.
   * @default the members' region
   */
  readonly region?: string;

  /**
   * KMS key (ARN) the snapshot is encrypted with, when it is a customer-managed key: the members'
   * roles get kms:Decrypt on it through S3.
   * @default the aws/s3 key, which needs no grant
   */
  readonly kmsKeyArn?: string;
}

export interface EtcdClusterProps {
  /** The cluster's members, bootstrap members first. */
  readonly members: EtcdMemberProps[];

  /**
   * Existing VPC to place the cluster in. Requires `subnetId`.
   * @default a new VPC with `vpcCidr`
   */
  readonly vpcId?: string;

  /**
   * Existing subnet for members without their own `subnetId`. Requires `vpcId`.
   * @default a new subnet with `subnetCidr` in the new VPC
   */
  readonly subnetId?: string;

  /**
   * CIDR of the VPC this construct creates.
   * @default "172.16.0.0/16"
   */
  readonly vpcCidr?: string;

  /**
   * CIDR of the subnet this construct creates, or of the existing `subnetId` (then used only
   * to check member IPs at synth time).
   * @default "172.16.0.0/24" for a new subnet; no check for an existing one
   */
  readonly subnetCidr?: string;

  /**
   * Availability zone of the subnet this construct creates.
   * @default chosen by AWS
   */
  readonly availabilityZone?: string;

  /**
   * EC2 instance type. Graviton types (t4g, m7g, ...) get the arm64 etcd build and AMI.
   * @default "t3.small"
   */
  readonly instanceType?: string;

  /**
   * AMI id. The user data needs cloud-init, systemd, curl and tar.
   * @default the latest Amazon Linux 2023 AMI for the instance's architecture, looked up at plan time
   */
  readonly ami?: string;

  /**
   * EC2 key pair name for SSH.
   * @default no key pair
   */
  readonly keyName?: string;

  /**
   * Root volume size in GiB (always gp3, encrypted).
   * @default 20
   */
  readonly rootVolumeSizeGiB?: number;

  /**
   * A data volume per member for etcd's data directory, apart from the VM: a member whose VM is
   * replaced (a new AMI, instance type, etcd version or tuning) keeps its member id and its data.
   * `false`: the data directory is on the root volume, and goes with the VM.
   * @default a 20 GiB gp3 volume per member, encrypted, snapshotted before Terraform deletes it
   */
  readonly dataVolume?: EtcdDataVolumeOptions | false;

  /**
   * Tags for every resource this construct creates.
   * @default none
   */
  readonly tags?: Record<string, string>;

  /**
   * CIDRs allowed to reach the members' client port 2379. Security groups: `allowClientsFrom()`.
   * @default none: only the cluster's own members
   */
  readonly clientCidrs?: string[];

  /**
   * CIDRs allowed to SSH (22) to the members.
   * @default none
   */
  readonly sshCidrs?: string[];

  /**
   * `ETCD_INITIAL_CLUSTER_TOKEN`, which keeps members of different clusters from joining each other.
   * @default "etcd-" + a hash of the construct path and the CA certificate, unique per cluster
   */
  readonly initialClusterToken?: string;

  /**
   * Seconds a joining member may take from registration to promotion (boot, install, catch up).
   * On timeout the deploy fails and the member stays a learner, which does not touch quorum.
   * @default 900
   */
  readonly joinTimeoutSeconds?: number;

  /**
   * How each member's private key reaches its VM.
   * "ssm": an SSM SecureString per member, readable only by that member's instance profile, fetched
   * by the boot script (needs the AWS CLI, as Amazon Linux 2023 has); the key is in neither the user
   * data nor the Terraform state.
   * "user-data": written by cloud-init from the user data itself, where ec2:DescribeInstanceAttribute,
   * IMDS, cloud-init's cache and the Terraform state expose it; for AMIs without the AWS CLI.
   * @default "ssm"
   */
  readonly keyDelivery?: "ssm" | "user-data";

  /**
   * KMS key (id, ARN or alias) encrypting the members' key parameters. With a customer-managed key
   * whose policy defers to IAM, only each member's instance profile can decrypt its parameter.
   * @default the account's AWS-managed aws/ssm key
   */
  readonly kmsKeyId?: string;

  /**
   * How the deploy's membership steps (register and promote a joining member, remove a member)
   * reach etcd.
   * "ssm": AWS Systems Manager Run Command runs each request on a running member, with curl, that
   * member's own certificate and its loopback client URL. The deploying machine needs no route into
   * the VPC: only AWS credentials allowed ec2:DescribeInstances, ssm:SendCommand,
   * ssm:GetCommandInvocation and ssm:CancelCommand, and the AWS CLI. Members get the
   * AmazonSSMManagedInstanceCore policy on their instance profile; they need the SSM agent (Amazon
   * Linux 2023 has it) and a route to SSM (the cluster's own subnet has one through its internet
   * gateway; a private subnet needs a NAT gateway or `ssmVpcEndpoints`).
   * "direct": the deploying machine dials each member's https://IP:2379 with the admin
   * certificate, so it must run inside the VPC (a bastion, a VPN).
   * @default "ssm"
   */
  readonly membershipTransport?: "ssm" | "direct";

  /**
   * Interface VPC endpoints for SSM (ssm, ssmmessages, ec2messages) in the cluster's subnet, with
   * private DNS, for members in a subnet with neither an internet gateway nor a NAT: what "ssm" key
   * delivery and the "ssm" membership transport need. The VPC must have DNS support and hostnames
   * enabled (a VPC this construct creates has both).
   * @default false
   */
  readonly ssmVpcEndpoints?: boolean;

  /**
   * How etcd is installed on the VM.
   * @default the v3.6.14 release tarball from GitHub
   */
  readonly install?: EtcdInstallOptions;

  /**
   * etcd tuning: heartbeat/election, quota, auto-compaction, metrics, other settings.
   * @default etcd's own defaults
   */
  readonly tuning?: EtcdTuning;

  /**
   * Scheduled snapshots to S3. Off unless given: the snapshots hold every key the cluster has
   * (Kubernetes Secrets among them), so where they live is a choice for the owner to make.
   * `backup: {}` turns them on with every default.
   * @default no backups
   */
  readonly backup?: EtcdBackupOptions;

  /**
   * Bootstrap this cluster from a snapshot instead of empty. Its default cluster token then differs
   * from the snapshot's, so no member of the old cluster can join the new one. Keep it set for the
   * life of the restored cluster: removing it changes the token, and with it every member.
   * @default a new, empty cluster
   */
  readonly restoreFrom?: EtcdRestoreOptions;

  /**
   * The PKI directory and certificate parameters.
   * @default see `EtcdPkiOptions`
   */
  readonly pki?: EtcdPkiOptions;
}

/** Each member's EBS data volume (gp3, encrypted), mounted at etcd's data directory. */
export interface EtcdDataVolumeOptions {
  /**
   * Size in GiB. etcd's backend is capped at its quota (2 GiB by default, 8 GiB at most advised),
   * and the WAL and snapshots need room beside it.
   * @default 20
   */
  readonly sizeGiB?: number;

  /**
   * Provisioned IOPS (gp3: 3000 to 16000, at most 500 per GiB). etcd fsyncs every write: its latency is the cluster's.
   * @default 3000 (gp3's baseline, at no extra cost)
   */
  readonly iops?: number;

  /**
   * Throughput in MiB/s (gp3: 125 to 1000, at most IOPS / 4).
   * @default 125 (gp3's baseline)
   */
  readonly throughputMiBps?: number;

  /**
   * KMS key (ARN) encrypting the volumes.
   * @default the account's AWS-managed aws/ebs key
   */
  readonly kmsKeyId?: string;

  /**
   * What Terraform does with a volume it destroys (`cdktf destroy`, a member set `removed`).
   * "snapshot": an EBS snapshot of it first (`final_snapshot`), which outlives the stack: the data
   * can be had back, and the snapshot is deleted by hand.
   * "retain": Terraform refuses to destroy it (`prevent_destroy`): the plan fails until this is changed.
   * "delete": the volume and its data go, as the VM's root volume does.
   * @default "snapshot"
   */
  readonly onDestroy?: "snapshot" | "retain" | "delete";
}
