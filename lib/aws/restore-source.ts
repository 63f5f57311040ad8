import { Construct } from "constructs";
import { DataAwsPartition } from "@cdktf/provider-aws/lib/data-aws-partition";
import type { ResolvedRestore } from "../config/resolved-cluster";

export interface RestoreSourceProps {
  readonly restore: ResolvedRestore;
}

/** The snapshot a restored cluster bootstraps from, and what its bootstrap members may read of it. */
export class RestoreSource extends Construct {
  private readonly partition: string;

  constructor(scope: Construct, id: string, private readonly props: RestoreSourceProps) {
    super(scope, id);
    this.partition = new DataAwsPartition(this, "partition").partition;
  }

  /** The snapshot and its metadata, nothing else of the bucket; kms:Decrypt through S3 for a customer-managed key. */
  memberPolicy(): string {
    const { restore } = this.props;
    const object = (key: string) => `arn:${this.partition}:s3:::${restore.bucket}/${key}`;
    const statements: object[] = [
      {
        Sid: "ReadTheSnapshot",
        Effect: "Allow",
        Action: "s3:GetObject",
        Resource: [object(restore.key), object(restore.key.replace(/\.snapshot\.db\.gz$/, ".json"))],
      },
    ];
    if (restore.kmsKeyArn) {
      statements.push({
        Sid: "DecryptTheSnapshot",
        Effect: "Allow",
        Action: "kms:Decrypt",
        Resource: restore.kmsKeyArn,
        Condition: { StringLike: { "kms:ViaService": "s3.*.amazonaws.com" } },
      });
    }
    return JSON.stringify({ Version: "2012-10-17", Statement: statements });
  }
}
