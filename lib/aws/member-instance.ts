import { Construct } from "constructs";
import { Instance } from "@cdktf/provider-aws/lib/instance";
import type { ITerraformDependable } from "../cdktf";
import { counted } from "./counted";
import { escapeTemplate } from "../terraform-string";

export interface MemberInstanceProps {
  readonly privateIp: string;
  readonly subnetId: string;
  readonly securityGroupIds: string[];
  readonly ami: string;
  readonly instanceType: string;
  readonly keyName?: string;
  readonly rootVolumeSizeGiB: number;
  readonly associatePublicIp: boolean;
  /** The profile whose role may read this member's key parameter ("ssm" key delivery). */
  readonly iamInstanceProfile?: string;
  readonly userData: string;
  /**
   * Placeholders in `userData` and the values (references Terraform resolves) that replace them
   * once the user data's own text is escaped for Terraform.
   * @default none
   */
  readonly userDataReferences?: Readonly<Record<string, string>>;
  readonly tags: Record<string, string>;
  readonly rootVolumeTags: Record<string, string>;
  readonly dependsOn?: ITerraformDependable[];
  /** 0 for a member that is removed or not launched yet: the block stays, the VM goes. */
  readonly count: 0 | 1;
}

/** An `aws_instance` with `count`, whose attributes a user composes with. */
const CountedInstance = counted(Instance);

/** One member's VM: static private IP, IMDSv2 only, encrypted root volume. */
export class MemberInstance extends Construct {
  /** The VM. Its attributes (`id`, `arn`, `privateIp`, ...) are references Terraform accepts in any other resource. */
  readonly instance: Instance;

  constructor(scope: Construct, id: string, props: MemberInstanceProps) {
    super(scope, id);
    this.instance = new CountedInstance(this, "instance", {
      ami: props.ami,
      instanceType: props.instanceType,
      subnetId: props.subnetId,
      privateIp: props.privateIp,
      vpcSecurityGroupIds: props.securityGroupIds,
      keyName: props.keyName,
      iamInstanceProfile: props.iamInstanceProfile,
      associatePublicIpAddress: props.associatePublicIp,
      userData: withReferences(escapeTemplate(props.userData), props.userDataReferences ?? {}),
      metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 },
      // The root volume's own tags, not volume_tags: those would claim the data volume's too.
      rootBlockDevice: { volumeType: "gp3", volumeSize: props.rootVolumeSizeGiB, encrypted: true, tags: props.rootVolumeTags },
      tags: props.tags,
      dependsOn: props.dependsOn,
      count: props.count,
      lifecycle: {
        // What a VM is launched with changes only through a roll (`etcd-cluster roll`), one member
        // at a time: a plain deploy must not replace every member at once for a new AMI release or
        // user data (cloud-init runs it once per instance anyway), nor stop and start every member
        // at once for a new instance type, as AWS changes one in place.
        ignoreChanges: ["user_data", "ami", "instance_type"],
      },
    });
  }
}

function withReferences(text: string, references: Readonly<Record<string, string>>): string {
  return Object.entries(references).reduce((result, [placeholder, value]) => result.split(placeholder).join(value), text);
}
