// What the lab's aws provider does for each resource type. Terraform decides what to create, change
// and destroy, and in which order; these handlers only stand in for EC2, SSM and S3 buckets. Everything else
// (VPC, subnet, security group rules, IAM) is recorded with stable fake ids: the lab network has
// one flat bridge, and security groups are not enforced on it.
import { createHash, randomBytes } from "node:crypto";
import type { ProviderHandlers, ProviderSchema, Value } from "./provider";
import { S3CallError, type LabS3Client } from "./s3-client";
import { LabMember, readMember } from "./stack";

type Values = Record<string, Value>;

/** What the handlers ask of the lab: EC2 instances, SSM parameters and S3 buckets. */
export interface LabCloud {
  /** Boots the member's VM from its user data; resolves once it runs (not once etcd is healthy), as RunInstances does. */
  launch(member: LabMember, instanceId: string, region: string, log: (line: string) => void): Promise<void>;
  /** Terminates the VM; its disk goes with it. */
  terminate(instanceId: string): Promise<void>;
  putParameter(name: string, value: string): void;
  /** A blank EBS volume of that size. */
  createVolume(volumeId: string, sizeGiB: number): void;
  /** Deletes the volume and its data (refused while it is attached). */
  deleteVolume(volumeId: string): void;
  volumeExists(volumeId: string): boolean;
  /** Attaches the volume to the instance, running or not. */
  attachVolume(volumeId: string, instanceId: string): Promise<void>;
  /** Detaches it; a running instance is stopped first with stopInstance, and refused without. */
  detachVolume(volumeId: string, instanceId: string, stopInstance: boolean): Promise<void>;
  attachmentExists(volumeId: string, instanceId: string): boolean;
  deleteParameter(name: string): void;
  /** Whether the instance still runs: `lab down` or a lost lab leaves Terraform's state behind. */
  instanceExists(instanceId: string): boolean;
  parameterExists(name: string): boolean;
  /** The lab's S3; undefined when the lab runs without one, and buckets are recorded only. */
  readonly s3?: LabS3Client;
}

const ACCOUNT = "000000000000";

/** id prefixes AWS uses, so that ids in plans and outputs look like the real ones. */
const ID_PREFIX: Record<string, string> = {
  aws_vpc: "vpc",
  aws_subnet: "subnet",
  aws_security_group: "sg",
  aws_internet_gateway: "igw",
  aws_route_table: "rtb",
  aws_route_table_association: "rtbassoc",
  aws_vpc_security_group_ingress_rule: "sgr",
  aws_vpc_security_group_egress_rule: "sgr",
  aws_ebs_volume: "vol",
  aws_ami: "ami",
};

export function labHandlers(cloud: LabCloud, schema: ProviderSchema, log: (line: string) => void): ProviderHandlers {
  let region = "us-east-1";
  // What the plan left to the provider: the type's attributes that `planned` does not hold.
  const fill = (type: string, planned: Values, given: Values): Values => {
    const unknown = Object.keys(schema.resources[type]?.attributes ?? {}).filter((a) => !(a in planned));
    return fillUnknown(type, planned, unknown, given, region);
  };
  return {
    async configure(config) {
      if (typeof config.region === "string") region = config.region;
    },

    async create({ type, config, planned }) {
      if (type === "aws_instance") {
        const member = memberOf(config);
        const id = `i-${randomBytes(9).toString("hex").slice(0, 17)}`;
        await cloud.launch(member, id, region, (line) => log(`${member.name}: ${line}`));
        return fill(type, planned, { id, arn: `arn:aws:ec2:${region}:${ACCOUNT}:instance/${id}` });
      }
      if (type === "aws_ssm_parameter") putParameter(cloud, config);
      if (type === "aws_ebs_volume") {
        const id = `vol-${randomBytes(9).toString("hex").slice(0, 17)}`;
        cloud.createVolume(id, typeof config.size === "number" ? config.size : 8);
        return fill(type, planned, { id, arn: `arn:aws:ec2:${region}:${ACCOUNT}:volume/${id}` });
      }
      if (type === "aws_volume_attachment") {
        const { volume_id: volumeId, instance_id: instanceId, device_name: device } = config;
        if (typeof volumeId !== "string" || typeof instanceId !== "string" || typeof device !== "string") {
          throw new Error("aws_volume_attachment: the lab attaches a volume_id to an instance_id under a device_name");
        }
        await cloud.attachVolume(volumeId, instanceId);
        return fill(type, planned, { id: attachmentId(device, instanceId, volumeId) });
      }
      if (type === "aws_s3_bucket") {
        const bucket = bucketName(config);
        if (cloud.s3) await cloud.s3.createBucket(bucket);
        else log(`aws_s3_bucket ${bucket}: recorded only (the lab has no S3)`);
        return fill(type, planned, { id: bucket, bucket, arn: `arn:aws:s3:::${bucket}`, bucket_domain_name: `${bucket}.s3.amazonaws.com` });
      }
      return fill(type, planned, {});
    },

    async update({ type, config, planned, prior }) {
      if (type === "aws_ssm_parameter") putParameter(cloud, config);
      // An in-place instance change (tags, instance type) needs nothing of the lab: the VM keeps running.
      return fill(type, planned, { id: prior.id });
    },

    async delete({ type, prior }) {
      if (type === "aws_instance" && typeof prior.id === "string") await cloud.terminate(prior.id);
      if (type === "aws_ssm_parameter" && typeof prior.name === "string") cloud.deleteParameter(prior.name);
      if (type === "aws_volume_attachment" && typeof prior.volume_id === "string" && typeof prior.instance_id === "string") {
        await cloud.detachVolume(prior.volume_id, prior.instance_id, prior.stop_instance_before_detaching === true);
      }
      if (type === "aws_ebs_volume" && typeof prior.id === "string") {
        // The lab keeps no snapshots: a final one is only said.
        if (prior.final_snapshot === true) log(`aws_ebs_volume ${prior.id}: final snapshot recorded only (the lab keeps no snapshots)`);
        cloud.deleteVolume(prior.id);
      }
      if (type === "aws_s3_bucket" && typeof prior.id === "string" && cloud.s3 && (await cloud.s3.bucketExists(prior.id))) {
        // S3 refuses to delete a bucket that holds objects: force_destroy empties it first, as the provider does.
        try {
          await cloud.s3.deleteBucket(prior.id, { force: prior.force_destroy === true });
        } catch (e) {
          // The AWS provider's words: s3rver's own message for this one has a typo.
          if (e instanceof S3CallError && e.code === "BucketNotEmpty") {
            throw new Error(
              `deleting S3 Bucket (${prior.id}): operation error S3: DeleteBucket, https response error StatusCode: 409, api error BucketNotEmpty: The bucket you tried to delete is not empty`
            );
          }
          throw new Error(`deleting S3 Bucket (${prior.id}): ${(e as Error).message}`);
        }
      }
    },

    // Refresh: an instance or parameter the lab no longer has is gone, as EC2 reports a terminated
    // instance, and Terraform plans to create it again. Recorded-only resources do not go away.
    async read({ type, state }) {
      if (type === "aws_instance" && typeof state.id === "string" && !cloud.instanceExists(state.id)) return null;
      if (type === "aws_ssm_parameter" && typeof state.name === "string" && !cloud.parameterExists(state.name)) return null;
      if (type === "aws_ebs_volume" && typeof state.id === "string" && !cloud.volumeExists(state.id)) return null;
      if (
        type === "aws_volume_attachment" &&
        typeof state.volume_id === "string" &&
        typeof state.instance_id === "string" &&
        !cloud.attachmentExists(state.volume_id, state.instance_id)
      )
        return null;
      if (type === "aws_s3_bucket" && typeof state.id === "string" && cloud.s3 && !(await cloud.s3.bucketExists(state.id))) return null;
      return {};
    },

    async readData({ type, config }) {
      const id = fakeId(type, config);
      if (type === "aws_ami") return { ...config, id, image_id: id, architecture: "x86_64" };
      // The user's subnet, in the region's first zone.
      if (type === "aws_subnet") return { ...config, id: config.id ?? id, availability_zone: `${region}a` };
      // The provider's region and partition, as the real data sources report them.
      if (type === "aws_region") return { ...config, id: region, name: region, region, endpoint: `ec2.${region}.amazonaws.com` };
      if (type === "aws_partition")
        return { ...config, id: "aws", partition: "aws", dns_suffix: "amazonaws.com", reverse_dns_prefix: "com.amazonaws" };
      return { ...config, id };
    },
  };
}

function memberOf(config: Values): LabMember {
  if (typeof config.user_data !== "string")
    throw new Error("aws_instance: the lab boots members from user_data, and this instance has none");
  return readMember("aws_instance", { tags: config.tags, private_ip: config.private_ip, user_data: config.user_data });
}

/** The provider's attachment id: a hash of the device name, instance and volume (vai-<crc32>). */
function attachmentId(device: string, instanceId: string, volumeId: string): string {
  return `vai-${parseInt(digest(`${device}-${instanceId}-${volumeId}-`).slice(0, 8), 16)}`;
}

/** The bucket's name: given, or the prefix and a unique suffix (26 characters, lowercase, as the provider makes it). */
function bucketName(config: Values): string {
  if (typeof config.bucket === "string") return config.bucket;
  const prefix = typeof config.bucket_prefix === "string" ? config.bucket_prefix : "terraform-";
  return `${prefix}${randomBytes(13).toString("hex")}`;
}

function putParameter(cloud: LabCloud, config: Values): void {
  // The write-only value: Terraform evaluated file() and hands it over in the config alone.
  const value = config.value_wo ?? config.value;
  if (typeof config.name !== "string" || typeof value !== "string") {
    throw new Error("aws_ssm_parameter: the lab stores parameters with a literal name and a value or value_wo");
  }
  cloud.putParameter(config.name, value);
}

/** Values for what the plan left unknown: the given ones first, then ids and ARNs made up stably. */
function fillUnknown(type: string, planned: Values, unknown: string[], given: Values, region: string): Values {
  const id = typeof given.id === "string" ? given.id : fakeId(type, planned);
  const out: Values = {};
  for (const attribute of unknown) {
    if (attribute in given) out[attribute] = given[attribute];
    else if (attribute === "id") out.id = id;
    else if (attribute === "arn") out.arn = fakeArn(type, planned, id, region);
    else if (/_id$/.test(attribute)) out[attribute] = `${attribute.replace(/_id$/, "")}-${digest(`${id}/${attribute}`)}`;
    // A computed attribute the configuration reads (private_dns, public_ip, ...): a visible stand-in.
    else out[attribute] = `lab-${attribute.replace(/_/g, "-")}-${digest(`${id}/${attribute}`).slice(0, 8)}`;
  }
  return out;
}

function fakeArn(type: string, planned: Values, id: string, region: string): string {
  const name = typeof planned.name === "string" ? planned.name : id;
  switch (type) {
    case "aws_ssm_parameter":
      return `arn:aws:ssm:${region}:${ACCOUNT}:parameter/${name.replace(/^\//, "")}`;
    case "aws_iam_role":
      return `arn:aws:iam::${ACCOUNT}:role/${name}`;
    case "aws_iam_instance_profile":
      return `arn:aws:iam::${ACCOUNT}:instance-profile/${name}`;
    default:
      return `arn:aws:${type.split("_")[1]}:${region}:${ACCOUNT}:${type.replace(/^aws_/, "")}/${id}`;
  }
}

/** The same configuration gets the same id, across applies and labs: plans and outputs stay stable. */
function fakeId(type: string, values: Values): string {
  const known = Object.fromEntries(Object.entries(values).filter(([, v]) => v !== null));
  const hex = digest(`${type}\n${canonical(known)}`);
  if (type === "aws_iam_role" || type === "aws_iam_instance_profile" || type === "aws_iam_role_policy") {
    return typeof values.name === "string" ? values.name : `lab-${hex}`;
  }
  if (type === "aws_ssm_parameter" && typeof values.name === "string") return values.name;
  return `${ID_PREFIX[type] ?? type.replace(/^aws_/, "").replace(/_/g, "-")}-${hex}`;
}

function digest(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 17);
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value);
}
