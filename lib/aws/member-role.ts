import { Construct } from "constructs";
import { IamInstanceProfile } from "@cdktf/provider-aws/lib/iam-instance-profile";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import type { ITerraformDependable } from "../cdktf";
import { moveFrom } from "../moved";

export interface MemberRoleProps {
  readonly memberName: string;
  /** What the role is for, for its description. */
  readonly purposes: readonly string[];
  readonly tags: Record<string, string>;
}

/**
 * A member's EC2 instance profile and its role, which only EC2 may assume: what key delivery,
 * SSM management and later policies are granted to. One per member, so that each member's
 * permissions (its own key parameter) stay its own.
 */
export class MemberRole extends Construct {
  readonly roleId: string;
  readonly roleName: string;
  /** For the member's aws_instance iam_instance_profile. */
  readonly instanceProfileName: string;
  /** Attachments the instance must wait for: a VM booted before its role may act is refused by the APIs. */
  readonly grants: ITerraformDependable[] = [];

  constructor(scope: Construct, id: string, props: MemberRoleProps) {
    super(scope, id);
    const role = new IamRole(this, "role", {
      namePrefix: iamNamePrefix(props.memberName),
      description: `etcd member ${props.memberName}: ${props.purposes.join("; ")}`,
      assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
      }),
      tags: props.tags,
    });
    const profile = new IamInstanceProfile(this, "profile", {
      namePrefix: iamNamePrefix(props.memberName),
      role: role.name,
      tags: props.tags,
    });
    // Up to 0.2 the role and profile belonged to the member's key parameter ("<member>-key"):
    // state written then moves here rather than the role being replaced under a running VM.
    moveFrom(role, scope, [`${props.memberName}-key`, "role"]);
    moveFrom(profile, scope, [`${props.memberName}-key`, "profile"]);
    this.roleId = role.id;
    this.roleName = role.name;
    this.instanceProfileName = profile.name;
  }

  /** Attaches a managed policy (e.g. AmazonSSMManagedInstanceCore's ARN in the stack's partition). */
  attachManagedPolicy(id: string, policyArn: string): void {
    this.grants.push(new IamRolePolicyAttachment(this, id, { role: this.roleName, policyArn }));
  }

  /** Adds an inline policy (a JSON document), e.g. the backup bucket's member policy. */
  addInlinePolicy(id: string, policy: string): void {
    this.grants.push(new IamRolePolicy(this, id, { namePrefix: `${id}-`, role: this.roleName, policy }));
  }
}

// Terraform's name_prefix for IAM roles takes at most 38 characters (it appends 26).
function iamNamePrefix(memberName: string): string {
  return `${memberName.slice(0, 37)}-`;
}
