import { Construct } from "constructs";
import { DataAwsPartition } from "@cdktf/provider-aws/lib/data-aws-partition";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { S3BucketLifecycleConfiguration } from "@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration";
import { S3BucketOwnershipControls } from "@cdktf/provider-aws/lib/s3-bucket-ownership-controls";
import { S3BucketPublicAccessBlock } from "@cdktf/provider-aws/lib/s3-bucket-public-access-block";
import { S3BucketServerSideEncryptionConfigurationA } from "@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration";
import { S3BucketVersioningA } from "@cdktf/provider-aws/lib/s3-bucket-versioning";
import { BACKUP_TIER_TAG, BACKUP_TIERS } from "../backup/backup-script";

export interface BackupBucketProps {
  /** A bucket the user brings; undefined: one is created here. */
  readonly existingBucket?: string;
  /** This cluster's key prefix, without a trailing "/". */
  readonly prefix: string;
  readonly kmsKeyId?: string;
  /** For a bucket created here. */
  readonly retention: { readonly recentDays: number; readonly dailyDays: number };
  readonly metricNamespace: string;
  readonly tags: Record<string, string>;
}

/**
 * Where a cluster's snapshots go: a bucket the user brings, or one created here, versioned, with
 * public access blocked, SSE-KMS by default, and lifecycle rules for the two tiers the backup
 * command tags each object with (BACKUP_TIERS). A snapshot's metadata sits beside it with the same
 * tier, so the two expire together: no control object the restore needs expires ahead of its
 * snapshot, and an object the backup could not tag is kept rather than expired.
 */
export class BackupBucket extends Construct {
  /** The bucket's name (a reference when it is created here). */
  readonly bucketName: string;
  readonly prefix: string;
  private readonly partition: string;

  constructor(scope: Construct, id: string, private readonly props: BackupBucketProps) {
    super(scope, id);
    this.prefix = props.prefix;
    this.partition = new DataAwsPartition(this, "partition").partition;
    this.bucketName = props.existingBucket ?? this.createBucket();
  }

  /**
   * What a member's role may do with backups: write and read under this cluster's prefix, list only
   * that prefix, and put metrics in its namespace. No delete: a member that is taken over can add
   * snapshots but not destroy the history (versioning keeps what it overwrites).
   */
  memberPolicy(): string {
    const bucketArn = `arn:${this.partition}:s3:::${this.bucketName}`;
    const statements: object[] = [
      {
        Sid: "WriteAndReadSnapshots",
        Effect: "Allow",
        Action: ["s3:PutObject", "s3:PutObjectTagging", "s3:GetObject"],
        Resource: `${bucketArn}/${this.prefix}/*`,
      },
      {
        Sid: "ListOwnPrefix",
        Effect: "Allow",
        Action: "s3:ListBucket",
        Resource: bucketArn,
        Condition: { StringLike: { "s3:prefix": `${this.prefix}/*` } },
      },
      {
        Sid: "BackupMetrics",
        Effect: "Allow",
        Action: "cloudwatch:PutMetricData",
        Resource: "*",
        Condition: { StringEquals: { "cloudwatch:namespace": this.props.metricNamespace } },
      },
    ];
    if (this.props.kmsKeyId !== undefined) {
      // An alias or a key id is no ARN an IAM Resource can name: S3 is the only way the key is used.
      statements.push({
        Sid: "SnapshotEncryption",
        Effect: "Allow",
        Action: ["kms:GenerateDataKey", "kms:Decrypt"],
        Resource: this.props.kmsKeyId.startsWith("arn:") && this.props.kmsKeyId.includes(":key/") ? this.props.kmsKeyId : "*",
        Condition: { StringLike: { "kms:ViaService": "s3.*.amazonaws.com" } },
      });
    }
    return JSON.stringify({ Version: "2012-10-17", Statement: statements });
  }

  private createBucket(): string {
    const { props } = this;
    const bucket = new S3Bucket(this, "bucket", {
      bucketPrefix: "etcd-backups-",
      tags: props.tags,
      // The snapshots outlive the cluster: `cdktf destroy` stops at a bucket that still holds any.
      forceDestroy: false,
    });
    new S3BucketOwnershipControls(this, "ownership", { bucket: bucket.id, rule: { objectOwnership: "BucketOwnerEnforced" } });
    new S3BucketPublicAccessBlock(this, "public-access-block", {
      bucket: bucket.id,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    const versioning = new S3BucketVersioningA(this, "versioning", { bucket: bucket.id, versioningConfiguration: { status: "Enabled" } });
    new S3BucketServerSideEncryptionConfigurationA(this, "encryption", {
      bucket: bucket.id,
      rule: [
        {
          applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: props.kmsKeyId },
          bucketKeyEnabled: true,
        },
      ],
    });
    const tierDays = { [BACKUP_TIERS.recent]: props.retention.recentDays, [BACKUP_TIERS.daily]: props.retention.dailyDays };
    new S3BucketLifecycleConfiguration(this, "lifecycle", {
      bucket: bucket.id,
      rule: [
        ...Object.entries(tierDays).map(([tier, days]) => ({
          id: `etcd-${tier}-${days}-days`,
          status: "Enabled",
          filter: [{ and: [{ prefix: `${props.prefix}/`, tags: { [BACKUP_TIER_TAG]: tier } }] }],
          expiration: [{ days }],
        })),
        {
          // A version a member overwrote, or one that expiry turned into a delete marker, stays 30
          // days: long enough to notice a bad backup job before what it overwrote is gone.
          id: "etcd-old-versions-30-days",
          status: "Enabled",
          filter: [{ prefix: `${props.prefix}/` }],
          expiration: [{ expiredObjectDeleteMarker: true }],
          noncurrentVersionExpiration: [{ noncurrentDays: 30 }],
          abortIncompleteMultipartUpload: [{ daysAfterInitiation: 1 }],
        },
      ],
      dependsOn: [versioning],
    });
    return bucket.bucket;
  }
}
