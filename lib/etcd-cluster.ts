import { createHash } from "node:crypto";
import * as path from "node:path";
import { Construct } from "constructs";
import { Annotations, AssetType, TerraformAsset, TerraformStack, type ITerraformDependable } from "./cdktf";
import { amazonLinux2023 } from "./aws/ami";
import { architectureOf } from "./aws/architecture";
import { MemberInstance } from "./aws/member-instance";
import { ClusterNetwork } from "./aws/network";
import { EtcdSecurityGroup, type EtcdClientSource } from "./aws/security-group";
import { runningMembers, initialClusterFor, peersOf, resolveMembers, type ClusterMember } from "./cluster-members";
import { MemberLifecycle, type MembershipAccess } from "./membership/member-lifecycle";
import { resolveInstallPlan, type InstallPlan } from "./etcd/releases";
import { tuningSettings } from "./etcd/tuning";
import { ETCD_PATHS, renderMemberUserData, type KeyDelivery } from "./node/member-user-data";
import { MemberKeyParameter } from "./aws/member-key-parameter";
import { ClusterOutputs } from "./outputs";
import type { PkiMaterial } from "./pki/pki-directory";
import { displayedPkiDirectory, planClusterPki, terraformWorkingDirectory } from "./cluster-pki";
import { declareTargetVersions } from "./target-versions";
import type { EtcdClusterProps } from "./props";
import { parseIpv4 } from "./net/ipv4";
import {
  DEFAULT_INSTANCE_TYPE,
  DEFAULT_SUBNET_CIDR,
  DEFAULT_VPC_CIDR,
  EtcdClusterConfigError,
  checkUserDataSize,
  validateClusterProps,
} from "./validation";

/** The Terraform versions the synthesized stack works with. */
export const REQUIRED_TERRAFORM = ">= 1.11";

const DEFAULTS = {
  rootVolumeSizeGiB: 20,
  keySize: 2048,
  caValidityDays: 3650,
  certificateValidityDays: 825,
  joinTimeoutSeconds: 900,
} as const;

/**
 * A TLS-secured etcd cluster on EC2: one VM per member with a static private IP, its own
 * certificate, and cloud-init user data that installs etcd, writes /etc/etcd/etcd.conf and
 * starts it.
 *
 * Everything is checked before anything is written: bad props throw an EtcdClusterConfigError
 * listing each problem, and the PKI directory is only touched once the whole cluster renders.
 */
export class EtcdCluster extends Construct {
  /** https://IP:2379 of every member whose VM runs (neither removed nor registerOnly). */
  readonly clientEndpoints: string[];
  /** The members' security group. */
  readonly securityGroupId: string;
  /** The VPC the members are in. */
  readonly vpcId: string;
  /** The PKI directory (ca.pem, admin.pem, admin-key.pem for etcdctl). */
  readonly pkiDirectory: string;
  /** ETCD_INITIAL_CLUSTER_TOKEN of this cluster. */
  readonly initialClusterToken: string;

  private readonly securityGroup: EtcdSecurityGroup;
  private readonly instances = new Map<string, MemberInstance>();
  /** Members whose aws_instance has count 0, and why. */
  private readonly withoutVm = new Map<string, string>();

  constructor(scope: Construct, id: string, props: EtcdClusterProps) {
    super(scope, id);
    declareTargetVersions(this);

    const { errors, warnings } = validateClusterProps(props);
    if (errors.length > 0) throw new EtcdClusterConfigError(this.node.path, errors);

    const members = resolveMembers(props.members);
    const instanceType = props.instanceType ?? DEFAULT_INSTANCE_TYPE;
    const install = resolveInstallPlan(props.install, architectureOf(instanceType)).plan as InstallPlan;

    this.pkiDirectory = props.pki?.directory ?? path.join(".etcd-pki", ...this.node.scopes.slice(1).map((s) => s.node.id));
    const pki = planClusterPki(this, props.pki, {
      directory: path.resolve(this.pkiDirectory),
      keySize: props.pki?.keySize ?? DEFAULTS.keySize,
      caValidityDays: props.pki?.caValidityDays ?? DEFAULTS.caValidityDays,
      certificateValidityDays: props.pki?.certificateValidityDays ?? DEFAULTS.certificateValidityDays,
    }, members.map(certificateRequest));

    this.initialClusterToken = props.initialClusterToken ?? defaultClusterToken(this.node.path, pki.material);
    const keyDelivery = props.keyDelivery ?? "ssm";
    const keyParameterName = (member: ClusterMember) => `/${this.initialClusterToken}/${member.name}`;
    const userData = renderAllUserData(members, pki.material, install, this.initialClusterToken, props, (member) =>
      keyDelivery === "ssm"
        ? { mode: "ssm", parameterName: keyParameterName(member) }
        : { mode: "user-data", keyPem: pki.material.members.get(member.name)!.keyPem }
    );
    const sizeErrors = members.flatMap((m, i) => checkUserDataSize(i, m.name, Buffer.byteLength(userData.get(m.name)!)) ?? []);
    if (sizeErrors.length > 0) throw new EtcdClusterConfigError(this.node.path, sizeErrors);

    // Only now, with the whole cluster rendered, does anything reach the disk.
    pki.commit();
    warnings.forEach((w) => Annotations.of(this).addWarning(`EtcdCluster ${this.node.path}: ${w}`));

    // Write-only arguments (the key parameters' value_wo) need Terraform 1.11: an older one would
    // fail on them with a message that does not say so.
    TerraformStack.of(this).addOverride("terraform.required_version", REQUIRED_TERRAFORM);

    const tags = { ...props.tags, "etcd:cluster": this.initialClusterToken };
    const existing = props.vpcId && props.subnetId ? { vpcId: props.vpcId, subnetId: props.subnetId } : undefined;
    const network = new ClusterNetwork(this, "network", {
      existing,
      vpcCidr: props.vpcCidr ?? DEFAULT_VPC_CIDR,
      subnetCidr: props.subnetCidr ?? DEFAULT_SUBNET_CIDR,
      availabilityZone: props.availabilityZone,
      tags,
    });
    this.vpcId = network.vpcId;

    this.securityGroup = new EtcdSecurityGroup(this, "security-group", { vpcId: network.vpcId, name: id, tags });
    this.securityGroupId = this.securityGroup.securityGroupId;
    (props.clientCidrs ?? []).forEach((cidr) => this.securityGroup.allowClientsFrom({ cidr }));
    (props.sshCidrs ?? []).forEach((cidr) => this.securityGroup.allowSshFrom(cidr));

    const ami = props.ami ?? amazonLinux2023(this, "ami", architectureOf(instanceType));
    const stackDir = terraformWorkingDirectory(this);
    // Terraform runs in the stack's directory: provisioners and file() find the PKI relative to it.
    const fromStack = (file: string) => path.relative(stackDir, path.resolve(this.pkiDirectory, file)).split(path.sep).join("/");
    const access = this.membershipAccess(fromStack);
    let previousJoiner: ITerraformDependable | undefined;
    let previousMember: ITerraformDependable | undefined;
    for (const member of members) {
      const lifecycle = new MemberLifecycle(this, `${member.name}-membership`, {
        member,
        endpoints: peersOf(member, members),
        access,
        joinTimeoutSeconds: props.joinTimeoutSeconds ?? DEFAULTS.joinTimeoutSeconds,
        registerOnly: member.registerOnly,
        after: member.initialClusterState === "existing" ? previousJoiner : undefined,
      });
      const running = !member.removed && !member.registerOnly;
      const keyParameter =
        keyDelivery === "ssm" && running
          ? new MemberKeyParameter(this, `${member.name}-key`, {
              memberName: member.name,
              parameterName: keyParameterName(member),
              keyFile: fromStack(`${member.name}-key.pem`),
              keyVersion: keyVersion(pki.material.members.get(member.name)!.keyPem),
              kmsKeyId: props.kmsKeyId,
              tags,
            })
          : undefined;
      const instance = new MemberInstance(this, member.name, {
        privateIp: member.privateIp,
        subnetId: member.subnetId ?? network.subnetId,
        securityGroupIds: [this.securityGroupId],
        ami,
        instanceType,
        keyName: props.keyName,
        rootVolumeSizeGiB: props.rootVolumeSizeGiB ?? DEFAULTS.rootVolumeSizeGiB,
        associatePublicIp: network.ownsSubnet,
        userData: userData.get(member.name)!,
        tags: { ...tags, Name: member.name, "etcd:member": member.name },
        iamInstanceProfile: keyParameter?.instanceProfileName,
        count: running ? 1 : 0,
        dependsOn: [...(lifecycle.registration ? [lifecycle.registration] : []), ...(keyParameter?.instanceDependencies ?? [])],
      });
      this.instances.set(member.name, instance);
      if (!running) this.withoutVm.set(member.name, member.removed ? "removed" : "registerOnly (registered, not launched)");
      const steps = lifecycle.attach(instance.instance, previousMember);
      previousMember = steps;
      // etcd takes one learner at a time: the next joiner registers once this one votes.
      if (member.initialClusterState === "existing") previousJoiner = steps;
    }

    this.clientEndpoints = runningMembers(members).map((m) => m.clientUrl);
    new ClusterOutputs(this, "outputs", {
      outputPrefix: id,
      members: runningMembers(members),
      pkiDirectory: displayedPkiDirectory(this, this.pkiDirectory),
      pki: pki.material,
    });
  }

  /** The membership script as a Terraform asset, and the admin certificate for it. */
  private membershipAccess(fromStack: (file: string) => string): MembershipAccess {
    // One file, not its directory: under dist/ the directory also holds .d.ts files.
    const asset = new TerraformAsset(this, "membership-script", {
      path: path.join(__dirname, "membership", "etcd-membership.js"),
      type: AssetType.FILE,
    });
    return { script: asset.path, cacert: fromStack("ca.pem"), cert: fromStack("admin.pem"), key: fromStack("admin-key.pem") };
  }

  /** Lets a network or another security group reach etcd's client port 2379. */
  allowClientsFrom(source: EtcdClientSource, description?: string): void {
    this.securityGroup.allowClientsFrom(source, description);
  }

  /** The VM of one member, to compose with (alarms, DNS records, ...). */
  memberInstance(name: string): MemberInstance {
    const instance = this.instances.get(name);
    if (!instance) {
      throw new Error(
        `EtcdCluster ${this.node.path}: no member named ${JSON.stringify(name)}: members are ${[...this.instances.keys()].join(", ")}`
      );
    }
    const idle = this.withoutVm.get(name);
    if (idle) {
      throw new Error(
        `EtcdCluster ${this.node.path}: member ${JSON.stringify(
          name
        )} has no VM to compose with: it is ${idle} (its aws_instance has count 0)`
      );
    }
    return instance;
  }
}

function certificateRequest(member: ClusterMember) {
  const extraIps = member.extraSans.filter((s) => parseIpv4(s) !== undefined);
  const extraNames = member.extraSans.filter((s) => parseIpv4(s) === undefined);
  return {
    name: member.name,
    ipAddresses: [member.privateIp, "127.0.0.1", ...extraIps],
    dnsNames: ["localhost", ...extraNames],
  };
}

/** value_wo_version: Terraform re-sends a write-only value only when this changes, so it follows the key. */
function keyVersion(keyPem: string): number {
  return parseInt(createHash("sha256").update(keyPem).digest("hex").slice(0, 12), 16);
}

/** Unique per cluster: two clusters from one stack, or one stack in two environments, never mix. */
function defaultClusterToken(constructPath: string, pki: PkiMaterial): string {
  const digest = createHash("sha256").update(`${constructPath}\n${pki.caFingerprintSha256}`).digest("hex");
  return `etcd-${digest.slice(0, 16)}`;
}

function renderAllUserData(
  members: readonly ClusterMember[],
  pki: PkiMaterial,
  install: InstallPlan,
  token: string,
  props: EtcdClusterProps,
  keyDelivery: (member: ClusterMember) => KeyDelivery
): Map<string, string> {
  const settings = tuningSettings(props.tuning);
  const tls = { certFile: ETCD_PATHS.cert, keyFile: ETCD_PATHS.key, trustedCaFile: ETCD_PATHS.caCert };
  return new Map(
    members.map((member) => {
      const credentials = pki.members.get(member.name)!;
      const userData = renderMemberUserData({
        conf: {
          name: member.name,
          dataDir: member.dataDir,
          listenPeerUrls: [member.peerUrl],
          listenClientUrls: [member.clientUrl, "https://127.0.0.1:2379"],
          initialAdvertisePeerUrls: [member.peerUrl],
          advertiseClientUrls: [member.clientUrl],
          initialCluster: initialClusterFor(member, members),
          initialClusterState: member.initialClusterState,
          initialClusterToken: token,
          tls,
          settings,
        },
        caCertPem: pki.caCertPem,
        certPem: credentials.certPem,
        keyDelivery: keyDelivery(member),
        install,
      });
      return [member.name, userData];
    })
  );
}
