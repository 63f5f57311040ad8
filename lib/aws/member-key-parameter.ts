import { Construct } from "constructs";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { SsmParameter } from "@cdktf/provider-aws/lib/ssm-parameter";
import { Fn, Token, ref, type ITerraformDependable } from "../cdktf";

export interface MemberKeyParameterProps {
  readonly memberName: string;
  /** The SSM parameter's name, "/<initialClusterToken>/<member>" (memberKeyParameterName); the boot script reads it. */
  readonly parameterName: string;
  /** The member's -key.pem, relative to the synthesized stack's directory (where Terraform runs), "/"-separated. */
  readonly keyFile: string;
  /**
   * value_wo_version. Terraform sends a write-only value only when this number changes, so derive
   * it from the key: a new key with the same version would never reach SSM.
   */
  readonly keyVersion: number;
  /** KMS key (id, ARN or alias) that encrypts the SecureString; default: the account's aws/ssm key. */
  readonly kmsKeyId?: string;
  /** The member's instance role: it alone may read the parameter. */
  readonly roleId: string;
  readonly tags: Record<string, string>;
}

/**
 * A member's private key as an SSM SecureString, and the policy that lets the member's instance
 * role read it and nothing else. The key is read from disk by Terraform's file() into the write-only value_wo
 * (Terraform >= 1.11), so it is in neither cdk.tf.json (only its path is) nor the Terraform state.
 */
export class MemberKeyParameter extends Construct {
  readonly parameterArn: string;
  /**
   * What the member's instance should depend on: the instance only references the profile, so
   * without this it may boot before the key is stored or the policy allows reading it (fetch_key
   * would wait, but only for so long).
   */
  readonly instanceDependencies: ITerraformDependable[];

  constructor(scope: Construct, id: string, props: MemberKeyParameterProps) {
    super(scope, id);
    const parameter = new SsmParameter(this, "parameter", {
      name: props.parameterName,
      type: "SecureString",
      // A PEM key (RSA-4096: about 3.3 KB) fits Standard's 4 KB; Standard is free and keeps the
      // KMS encryption context the IAM policy below relies on.
      tier: "Standard",
      description: `Private key (PEM) of etcd member ${props.memberName}`,
      // Token.asString(ref(...)): a literal "${path.module}" would be escaped into plain text.
      valueWo: Fn.file(`${Token.asString(ref("path.module"))}/${props.keyFile}`),
      valueWoVersion: props.keyVersion,
      keyId: props.kmsKeyId,
      tags: props.tags,
    });

    const policy = new IamRolePolicy(this, "read-key", {
      name: "read-member-key",
      role: props.roleId,
      policy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          { Sid: "ReadTheKeyParameter", Effect: "Allow", Action: "ssm:GetParameter", Resource: parameter.arn },
          {
            // Parameter Store decrypts with PARAMETER_ARN as the KMS encryption context: whichever
            // key encrypts it (aws/ssm or kmsKeyId), this allows decrypting this parameter only.
            Sid: "DecryptTheKeyParameterOnly",
            Effect: "Allow",
            Action: "kms:Decrypt",
            Resource: "*",
            Condition: { StringEquals: { "kms:EncryptionContext:PARAMETER_ARN": parameter.arn } },
          },
        ],
      }),
    });

    this.parameterArn = parameter.arn;
    this.instanceDependencies = [parameter, policy];
  }
}
