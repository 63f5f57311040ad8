import type { ClusterMember } from "../cluster-members";
import type { EtcdArch, InstallPlan } from "../etcd/releases";

/** Where the members live: subnets the user has, or a VPC the construct creates. */
export type NetworkChoice =
  | { readonly kind: "existing"; readonly vpcId: string; readonly subnetId: string }
  | { readonly kind: "new"; readonly vpcCidr: string; readonly subnetCidr: string; readonly availabilityZone?: string };

/** How each member's private key reaches its VM (see EtcdClusterProps.keyDelivery). */
export type KeyDeliveryChoice = { readonly mode: "ssm"; readonly kmsKeyId?: string } | { readonly mode: "user-data" };

export interface ResolvedPki {
  /** "directory": the PKI in `directory`; "test": the INSECURE seeded test PKI, which reads and writes nothing. */
  readonly source: "directory" | "test";
  /** The test PKI's seed (used with source "test" only). */
  readonly testSeed: string;
  /** As given (relative to the working directory, or absolute). */
  readonly directory: string;
  readonly keySize: 2048 | 3072 | 4096;
  readonly caValidityDays: number;
  readonly certificateValidityDays: number;
}

/** EtcdClusterProps.backup checked, with its defaults. */
export interface ResolvedBackup {
  /** systemd OnCalendar. */
  readonly schedule: string;
  /** Undefined: the construct creates the bucket. A name or a reference. */
  readonly bucket?: string;
  /** Undefined: "etcd/<initialClusterToken>", known once the token is. */
  readonly prefix?: string;
  readonly kmsKeyId?: string;
  /** For a bucket the construct creates. */
  readonly retention: { readonly recentDays: number; readonly dailyDays: number };
  readonly metricNamespace: string;
  /** The add and remove steps take a backup first. */
  readonly beforeMembershipChanges: boolean;
}

/** EtcdClusterProps.dataVolume checked, with its defaults. */
export interface ResolvedDataVolume {
  readonly sizeGiB: number;
  readonly iops: number;
  readonly throughputMiBps: number;
  readonly kmsKeyId?: string;
  readonly onDestroy: "snapshot" | "retain" | "delete";
}

/** EtcdClusterProps.restoreFrom checked. */
export interface ResolvedRestore {
  readonly snapshotUri: string;
  readonly bucket: string;
  /** The snapshot's key; its metadata's is the same with .json for .snapshot.db.gz. */
  readonly key: string;
  /** Undefined: the members' region. */
  readonly region?: string;
  readonly kmsKeyArn?: string;
}

/**
 * EtcdClusterProps checked and with every default applied: what the construct builds from. It
 * holds no props: a field is here because something reads it.
 */
export interface ResolvedCluster {
  readonly members: readonly ClusterMember[];
  readonly network: NetworkChoice;
  readonly instanceType: string;
  readonly architecture: EtcdArch;
  /** Undefined: the latest Amazon Linux 2023 for `architecture`. */
  readonly ami?: string;
  readonly keyName?: string;
  readonly rootVolumeSizeGiB: number;
  /** Undefined: the data directory is on the root volume. */
  readonly dataVolume?: ResolvedDataVolume;
  readonly tags: Readonly<Record<string, string>>;
  /** Each network once. */
  readonly clientCidrs: readonly string[];
  readonly sshCidrs: readonly string[];
  /** Undefined: derived from the construct path and the CA (see defaultClusterToken). */
  readonly initialClusterToken?: string;
  readonly joinTimeoutSeconds: number;
  readonly keyDelivery: KeyDeliveryChoice;
  /** How the membership steps reach etcd: Run Command on a member, or straight from the deployer. */
  readonly membershipTransport: "ssm" | "direct";
  readonly ssmVpcEndpoints: boolean;
  readonly install: InstallPlan;
  /** The ETCD_* settings the tuning adds to etcd.conf. */
  readonly etcdSettings: Readonly<Record<string, string>>;
  readonly pki: ResolvedPki;
  /** Undefined: no backups. */
  readonly backup?: ResolvedBackup;
  /** Undefined: the cluster starts empty. */
  readonly restoreFrom?: ResolvedRestore;
  /** Unwise but valid choices, for Annotations. */
  readonly warnings: readonly string[];
}
