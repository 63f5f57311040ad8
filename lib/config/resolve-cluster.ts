// The one pass from EtcdClusterProps to what the construct builds: every rule about the props is
// here (or in the resolve functions this calls), every default is applied here, and a problem is
// collected with its property path rather than thrown, so that a user sees all of them at once.
import { architectureOf } from "../aws/architecture";
import { memberKeyParameterName, ssmParameterNameProblem } from "../aws/ssm-parameter-name";
import { Token } from "../cdktf";
import type { ClusterMember } from "../cluster-members";
import { resolveInstallPlan } from "../etcd/releases";
import { tuningSettings, validateTuning } from "../etcd/tuning";
import type { EtcdClusterProps } from "../props";
import { Problems, type ConfigProblem } from "./config-error";
import { DEFAULTS } from "./defaults";
import { resolveBackup } from "./resolve-backup";
import { resolveDataVolume } from "./resolve-data-volume";
import { resolveRestore, restoreTokenProblem } from "./resolve-restore";
import { resolveClusterMembers } from "./resolve-members";
import { cidrList, resolveNetwork } from "./resolve-network";
import { isIntegerIn, resolvePki } from "./resolve-pki";
import type { KeyDeliveryChoice, ResolvedCluster } from "./resolved-cluster";

const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9]+$/;
const AMI_ID = /^ami-[0-9a-f]{8}([0-9a-f]{9})?$/;
const CLUSTER_TOKEN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export interface ResolveContext {
  /** Where the PKI lives when `pki.directory` is not given: `.etcd-pki/<construct path>`. */
  readonly defaultPkiDirectory: string;
  /** The app is cdktf's Testing.app(): the test PKI is the default, and allowed. */
  readonly testing: boolean;
  /** The app context lets a real synth take the test PKI anyway (its plan still fails). */
  readonly allowTestPki: boolean;
}

export type Resolution =
  | { readonly ok: true; readonly cluster: ResolvedCluster }
  | { readonly ok: false; readonly problems: readonly ConfigProblem[] };

export function resolveCluster(props: EtcdClusterProps, context: ResolveContext): Resolution {
  const problems = new Problems();
  const warnings: string[] = [];

  const network = resolveNetwork(props, problems);
  const members = resolveClusterMembers(props, network, problems, warnings);

  const instanceType = props.instanceType ?? DEFAULTS.instanceType;
  if (typeof instanceType !== "string" || !INSTANCE_TYPE.test(instanceType)) {
    problems.add(
      "instanceType",
      `instanceType is ${JSON.stringify(instanceType)}: give an EC2 instance type such as "t3.small" or "m7g.large"`
    );
  }
  const architecture = architectureOf(String(instanceType));
  // A token (another resource's attribute) is resolved by Terraform; only literals can be checked here.
  if (props.ami !== undefined && !Token.isUnresolved(props.ami) && !AMI_ID.test(props.ami)) {
    problems.add(
      "ami",
      `ami is ${JSON.stringify(
        props.ami
      )}: give an AMI id such as "ami-0abcdef1234567890", or leave it out for the latest Amazon Linux 2023`
    );
  }
  const rootVolumeSizeGiB = props.rootVolumeSizeGiB ?? DEFAULTS.rootVolumeSizeGiB;
  if (!isIntegerIn(rootVolumeSizeGiB, 8, 16384)) {
    problems.add("rootVolumeSizeGiB", `rootVolumeSizeGiB is ${rootVolumeSizeGiB}: give a whole number of GiB from 8 to 16384`);
  }
  const dataVolume = resolveDataVolume(props.dataVolume, problems, warnings);
  const joinTimeoutSeconds = props.joinTimeoutSeconds ?? DEFAULTS.joinTimeoutSeconds;
  if (!isIntegerIn(joinTimeoutSeconds, 30, 86400)) {
    problems.add(
      "joinTimeoutSeconds",
      `joinTimeoutSeconds is ${joinTimeoutSeconds}: give a whole number of seconds from 30 to 86400 (booting and installing etcd takes a few minutes)`
    );
  }

  const keyDelivery = resolveKeyDelivery(props, problems, warnings);
  const membershipTransport = props.membershipTransport ?? DEFAULTS.membershipTransport;
  if (membershipTransport !== "ssm" && membershipTransport !== "direct") {
    problems.add(
      "membershipTransport",
      `membershipTransport is ${JSON.stringify(
        membershipTransport
      )}: use "ssm" (the default: Run Command on a member, from anywhere with AWS credentials) or "direct" (from inside the VPC)`
    );
  } else if (membershipTransport === "ssm" && props.ami !== undefined) {
    warnings.push(
      `membershipTransport is "ssm" with a custom ami: the membership steps run through SSM Run Command, so the AMI must run the SSM agent (Amazon Linux 2023 does), or use "direct" from inside the VPC`
    );
  }
  const ssmVpcEndpoints = props.ssmVpcEndpoints ?? DEFAULTS.ssmVpcEndpoints;
  if (typeof ssmVpcEndpoints !== "boolean") {
    problems.add("ssmVpcEndpoints", `ssmVpcEndpoints is ${JSON.stringify(ssmVpcEndpoints)}: give true or false`);
  } else if (ssmVpcEndpoints && keyDelivery.mode !== "ssm" && membershipTransport !== "ssm") {
    warnings.push(
      `ssmVpcEndpoints is true but neither keyDelivery nor membershipTransport is "ssm": the endpoints would serve nothing; drop ssmVpcEndpoints`
    );
  }
  checkClusterToken(props.initialClusterToken, keyDelivery, members, problems);
  const clientCidrs = cidrList("clientCidrs", props.clientCidrs, problems);
  const sshCidrs = cidrList("sshCidrs", props.sshCidrs, problems);
  const pki = resolvePki(props.pki, context, problems, warnings);
  const install = resolveInstallPlan(props.install, architecture);
  // The version the settings are named for; a bad install is its own problem, not the tuning's.
  const plan = install.plan;
  const tuningVersion = plan === undefined ? DEFAULTS.etcdVersion : plan.source === "release" ? plan.version : undefined;
  validateTuning(props.tuning, "tuning", tuningVersion).forEach((message) => problems.add("tuning", message));
  install.errors.forEach((message) => problems.add("install", message));
  const backup = resolveBackup(props.backup, membershipTransport === "direct" ? "direct" : "ssm", problems, warnings);
  const restoreFrom = resolveRestore(props.restoreFrom, problems);
  if (restoreFrom && typeof props.initialClusterToken === "string") {
    const problem = restoreTokenProblem(restoreFrom, props.initialClusterToken);
    if (problem) problems.add("initialClusterToken", problem);
  }
  if (restoreFrom && props.tuning?.extraSettings?.ETCD_WAL_DIR !== undefined) {
    problems.add(
      "tuning.extraSettings.ETCD_WAL_DIR",
      `tuning.extraSettings.ETCD_WAL_DIR is ${JSON.stringify(
        props.tuning.extraSettings.ETCD_WAL_DIR
      )} with restoreFrom: a restore writes the WAL inside the data directory; drop ETCD_WAL_DIR for the restored cluster`
    );
  }
  if (backup && props.ami !== undefined) {
    warnings.push(
      `backup is on with a custom ami: the members' backup timer needs the AWS CLI, gzip and curl on the AMI (Amazon Linux 2023 has them)`
    );
  }

  if (!problems.empty || install.plan === undefined) return { ok: false, problems: problems.all };
  return {
    ok: true,
    cluster: {
      members,
      network: network.choice,
      instanceType,
      architecture,
      ami: props.ami,
      keyName: props.keyName,
      rootVolumeSizeGiB,
      dataVolume,
      tags: { ...props.tags },
      clientCidrs,
      sshCidrs,
      initialClusterToken: props.initialClusterToken,
      joinTimeoutSeconds,
      keyDelivery,
      membershipTransport,
      ssmVpcEndpoints,
      install: install.plan,
      etcdSettings: tuningSettings(props.tuning, tuningVersion),
      pki,
      backup,
      restoreFrom,
      warnings,
    },
  };
}

function resolveKeyDelivery(props: EtcdClusterProps, problems: Problems, warnings: string[]): KeyDeliveryChoice {
  const mode = props.keyDelivery ?? DEFAULTS.keyDelivery;
  if (mode !== "ssm" && mode !== "user-data") {
    problems.add(
      "keyDelivery",
      `keyDelivery is ${JSON.stringify(mode)}: use "ssm" (the default) or "user-data" for AMIs without the AWS CLI`
    );
    return { mode: "ssm" };
  }
  if (mode === "user-data") {
    if (props.kmsKeyId !== undefined) {
      problems.add(
        "kmsKeyId",
        `kmsKeyId is ${JSON.stringify(
          props.kmsKeyId
        )} but keyDelivery is "user-data", which uses no KMS key: drop kmsKeyId or use keyDelivery "ssm"`
      );
    }
    warnings.push(
      `keyDelivery is "user-data": each member's private key sits in its EC2 user data, readable through ec2:DescribeInstanceAttribute, IMDS, cloud-init's cache and the Terraform state; use "ssm" unless the AMI has no AWS CLI`
    );
    return { mode };
  }
  if (props.kmsKeyId !== undefined && (typeof props.kmsKeyId !== "string" || props.kmsKeyId.trim() === "")) {
    problems.add(
      "kmsKeyId",
      `kmsKeyId is ${JSON.stringify(props.kmsKeyId)}: give a KMS key id, ARN or alias, or leave it out for the aws/ssm key`
    );
  }
  return { mode, kmsKeyId: props.kmsKeyId };
}

/** The token is etcd's, but with "ssm" key delivery it also starts every key parameter's name. */
function checkClusterToken(
  token: string | undefined,
  keyDelivery: KeyDeliveryChoice,
  members: readonly ClusterMember[],
  problems: Problems
): void {
  if (token === undefined) return;
  if (typeof token !== "string" || !CLUSTER_TOKEN.test(token)) {
    problems.add(
      "initialClusterToken",
      `initialClusterToken is ${JSON.stringify(token)}: use 1-128 letters, digits, ".", "_" or "-", or leave it out for a unique default`
    );
    return;
  }
  if (keyDelivery.mode !== "ssm") return;
  for (const member of members) {
    const name = memberKeyParameterName(token, member.name);
    const problem = ssmParameterNameProblem(name);
    if (problem) {
      problems.add(
        "initialClusterToken",
        `initialClusterToken is ${JSON.stringify(token)}, which starts each member's SSM key parameter name, and ${JSON.stringify(
          name
        )} ${problem}: pick another token, or leave it out for a unique default`
      );
      return;
    }
  }
}
