import { Token } from "../cdktf";
import type { EtcdDataVolumeOptions } from "../props";
import type { Problems } from "./config-error";
import { DEFAULTS } from "./defaults";
import type { ResolvedDataVolume } from "./resolved-cluster";

const ON_DESTROY = ["snapshot", "retain", "delete"] as const;
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)\/[A-Za-z0-9/_-]+$/;

/** `dataVolume` checked against gp3's limits: undefined when the data directory stays on the root volume. */
export function resolveDataVolume(
  options: EtcdDataVolumeOptions | false | undefined,
  problems: Problems,
  warnings: string[]
): ResolvedDataVolume | undefined {
  if (options === false) {
    warnings.push(
      "dataVolume is false: etcd's data is on each VM's root volume, so a VM replaced (new AMI, instance type, version or tuning) loses its member; roll such changes by removing and adding members"
    );
    return undefined;
  }
  const given = options ?? {};
  if (given === null || typeof given !== "object" || Array.isArray(given)) {
    problems.add(
      "dataVolume",
      `dataVolume is ${JSON.stringify(given)}: give an object such as { sizeGiB: 20 }, {} for the defaults, or false`
    );
    return undefined;
  }
  const { sizeGiB, iops, throughputMiBps, onDestroy } = { ...DEFAULTS.dataVolume, ...given };
  const before = problems.all.length;
  if (!isWholeIn(sizeGiB, 1, 16384)) {
    problems.add(
      "dataVolume.sizeGiB",
      `dataVolume.sizeGiB is ${JSON.stringify(sizeGiB)}: give a whole number of GiB from 1 to 16384 (gp3)`
    );
  }
  if (!isWholeIn(iops, 3000, 16000)) {
    problems.add("dataVolume.iops", `dataVolume.iops is ${JSON.stringify(iops)}: give a whole number from 3000 to 16000 (gp3)`);
  } else if (isWholeIn(sizeGiB, 1, 16384) && iops > 3000 && iops > sizeGiB * 500) {
    problems.add(
      "dataVolume.iops",
      `dataVolume.iops is ${iops} on ${sizeGiB} GiB: gp3 allows at most 500 IOPS per GiB; give sizeGiB ${Math.ceil(
        iops / 500
      )} or more, or fewer IOPS`
    );
  }
  if (!isWholeIn(throughputMiBps, 125, 1000)) {
    problems.add(
      "dataVolume.throughputMiBps",
      `dataVolume.throughputMiBps is ${JSON.stringify(throughputMiBps)}: give a whole number of MiB/s from 125 to 1000 (gp3)`
    );
  } else if (isWholeIn(iops, 3000, 16000) && throughputMiBps > 125 && throughputMiBps > iops / 4) {
    problems.add(
      "dataVolume.throughputMiBps",
      `dataVolume.throughputMiBps is ${throughputMiBps} with ${iops} IOPS: gp3 allows at most IOPS / 4 MiB/s; give iops ${
        throughputMiBps * 4
      } or more, or less throughput`
    );
  }
  if (!(ON_DESTROY as readonly unknown[]).includes(onDestroy)) {
    problems.add(
      "dataVolume.onDestroy",
      `dataVolume.onDestroy is ${JSON.stringify(
        onDestroy
      )}: use "snapshot" (the default: a final snapshot first), "retain" (Terraform refuses to destroy it) or "delete"`
    );
  }
  const { kmsKeyId } = given;
  if (kmsKeyId !== undefined && !Token.isUnresolved(kmsKeyId) && (typeof kmsKeyId !== "string" || !KMS_KEY_ARN.test(kmsKeyId))) {
    problems.add(
      "dataVolume.kmsKeyId",
      `dataVolume.kmsKeyId is ${JSON.stringify(
        kmsKeyId
      )}: give a KMS key ARN (EBS takes no bare key id here), or leave it out for the aws/ebs key`
    );
  }
  if (problems.all.length > before) return undefined;
  if (onDestroy === "delete") {
    warnings.push(
      `dataVolume.onDestroy is "delete": \`cdktf destroy\` or a member set removed deletes its volume with no snapshot; the cluster's data is then only in its backups`
    );
  }
  return { sizeGiB, iops, throughputMiBps, kmsKeyId, onDestroy: onDestroy as ResolvedDataVolume["onDestroy"] };
}

function isWholeIn(value: unknown, min: number, max: number): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= min && value <= max;
}
