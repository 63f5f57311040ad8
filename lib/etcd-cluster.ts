import { createHash } from "node:crypto";
import * as path from "node:path";
import { Construct } from "constructs";
import { Annotations, AssetType, LocalBackend, TerraformAsset, TerraformStack, Token, type ITerraformDependable } from "./cdktf";
import { amazonLinux2023 } from "./aws/ami";
import { BackupBucket } from "./aws/backup-bucket";
import { RestoreSource } from "./aws/restore-source";
import { MemberDataVolume } from "./aws/data-volume";
import { MemberInstance } from "./aws/member-instance";
import { MemberKeyParameter } from "./aws/member-key-parameter";
import { MemberRole } from "./aws/member-role";
import { SsmAccess } from "./aws/ssm-access";
import { ClusterNetwork } from "./aws/network";
import { EtcdSecurityGroup, type EtcdClientSource } from "./aws/security-group";
import { memberKeyParameterName } from "./aws/ssm-parameter-name";
import { displayedPath, isTestingApp, planClusterPki, terraformWorkingDirectory } from "./cluster-pki";
import { initialClusterFor, peersOf, runningMembers, type ClusterMember } from "./cluster-members";
import { EtcdClusterConfigError, type ConfigProblem } from "./config/config-error";
import { deployedVersions } from "./config/deployed-versions";
import { versionChangeProblem } from "./etcd/upgrade-path";
import { DEFAULTS } from "./config/defaults";
import { resolveCluster } from "./config/resolve-cluster";
import { ALLOW_TEST_PKI_CONTEXT } from "./config/resolve-pki";
import type { ResolvedCluster, ResolvedRestore } from "./config/resolved-cluster";
import { userDataSizeProblems } from "./config/user-data-limit";
import { ON_MEMBER_CLIENT, renderMemberUserData, type MemberBackupInput } from "./host/member-user-data";
import { MemberLifecycle, type MembershipAccess } from "./membership/member-lifecycle";
import { parseIpv4 } from "./net/ipv4";
import { ClusterOutputs } from "./outputs";
import { CaPin } from "./pki/ca-pin";
import { PkiError, type PkiMaterial, type PkiPlan } from "./pki/pki-directory";
import type { EtcdClusterProps } from "./props";
import { declareTargetVersions } from "./target-versions";

/** The Terraform versions the synthesized stack works with. */
export const REQUIRED_TERRAFORM = ">= 1.11";

/**
 * A TLS-secured etcd cluster on EC2: one VM per member with a static private IP, its own
 * certificate, and cloud-init user data that installs etcd, writes /etc/etcd/etcd.conf and
 * starts it.
 *
 * Everything is checked before anything is built: bad props throw one EtcdClusterConfigError
 * listing every problem. The PKI directory is written last, once every resource exists, so a
 * construct that fails leaves the disk as it was.
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
    declareTargetVersions(this); // before any child: context cannot be set after

    const resolution = resolveCluster(props, {
      defaultPkiDirectory: path.join(DEFAULTS.pkiRoot, ...this.node.scopes.slice(1).map((s) => s.node.id)),
      testing: isTestingApp(this),
      allowTestPki: this.node.tryGetContext(ALLOW_TEST_PKI_CONTEXT) === true,
    });
    if (!resolution.ok) throw new EtcdClusterConfigError(this.node.path, resolution.problems);
    const cluster = resolution.cluster;

    const pki = this.planPki(cluster);
    this.pkiDirectory = cluster.pki.directory;
    this.initialClusterToken = cluster.initialClusterToken ?? defaultClusterToken(this.node.path, pki.material, cluster.restoreFrom);
    const versionChanges = versionChangeProblems(cluster, this.localStateFile(), this.initialClusterToken);
    if (versionChanges.length > 0) throw new EtcdClusterConfigError(this.node.path, versionChanges);
    const backupPrefix = cluster.backup && (cluster.backup.prefix ?? `${DEFAULTS.backup.prefixRoot}/${this.initialClusterToken}`);
    const userData = renderAllUserData(cluster, pki.material, this.initialClusterToken, backupPrefix);
    const tooBig = userDataSizeProblems(cluster.members, userData);
    if (tooBig.length > 0) throw new EtcdClusterConfigError(this.node.path, tooBig);

    // Write-only arguments (the key parameters' value_wo) need Terraform 1.11: an older one would
    // fail on them with a message that does not say so.
    TerraformStack.of(this).addOverride("terraform.required_version", REQUIRED_TERRAFORM);
    const tags = { ...cluster.tags, "etcd:cluster": this.initialClusterToken };

    new CaPin(this, "ca", {
      caFingerprintSha256: pki.material.caFingerprintSha256,
      pkiDirectory: displayedPath(this, cluster.pki.directory),
    });
    const network = new ClusterNetwork(this, "network", { choice: cluster.network, tags });
    this.vpcId = network.vpcId;

    this.securityGroup = new EtcdSecurityGroup(this, "security-group", { vpcId: network.vpcId, name: id, tags });
    this.securityGroupId = this.securityGroup.securityGroupId;
    cluster.clientCidrs.forEach((cidr) => this.securityGroup.allowClientsFrom({ cidr }));
    cluster.sshCidrs.forEach((cidr) => this.securityGroup.allowSshFrom(cidr));

    const ami = cluster.ami ?? amazonLinux2023(this, "ami", cluster.architecture);
    const usesSsm = cluster.keyDelivery.mode === "ssm" || cluster.membershipTransport === "ssm";
    const ssm = usesSsm
      ? new SsmAccess(this, "ssm", {
          vpcEndpoints: cluster.ssmVpcEndpoints
            ? { vpcId: network.vpcId, subnetId: network.subnetId, memberSecurityGroupId: this.securityGroupId }
            : undefined,
          tags,
        })
      : undefined;
    const backups =
      cluster.backup &&
      new BackupBucket(this, "backup", {
        existingBucket: cluster.backup.bucket,
        prefix: backupPrefix!,
        kmsKeyId: cluster.backup.kmsKeyId,
        retention: cluster.backup.retention,
        metricNamespace: cluster.backup.metricNamespace,
        tags,
      });
    const restoreSource = cluster.restoreFrom && new RestoreSource(this, "restore", { restore: cluster.restoreFrom });
    const fromStack = this.relativeToStack();
    const access = this.membershipAccess(cluster, pki.material, fromStack, ssm);
    let previousJoiner: ITerraformDependable | undefined;
    let previousVoter: ITerraformDependable | undefined;
    for (const member of cluster.members) {
      const lifecycle = new MemberLifecycle(this, `${member.name}-membership`, {
        member,
        endpoints: peersOf(member, cluster.members),
        access,
        joinTimeoutSeconds: cluster.joinTimeoutSeconds,
        after: member.initialClusterState === "existing" ? previousJoiner : undefined,
      });
      const running = !member.removed && !member.registerOnly;
      const needsRole = ssm || backups || restoreSource;
      const role = running && needsRole ? this.memberRole(cluster, member, { ssm, backups, restoreSource }, tags) : undefined;
      const keyParameter =
        cluster.keyDelivery.mode === "ssm" && role
          ? new MemberKeyParameter(this, `${member.name}-key`, {
              memberName: member.name,
              parameterName: memberKeyParameterName(this.initialClusterToken, member.name),
              keyFile: fromStack(pki.material.paths.memberKeys.get(member.name)!),
              keyVersion: keyVersion(pki.material.members.get(member.name)!.keyPem),
              kmsKeyId: cluster.keyDelivery.kmsKeyId,
              roleId: role.roleId,
              tags,
            })
          : undefined;
      const dataVolume =
        cluster.dataVolume &&
        new MemberDataVolume(this, `${member.name}-data`, {
          volume: cluster.dataVolume,
          availabilityZone: network.availabilityZoneOf(member.subnetId ?? network.subnetId),
          tags: { ...tags, Name: `${member.name}-data`, "etcd:member": member.name },
          count: running ? 1 : 0,
        });
      const instance = new MemberInstance(this, member.name, {
        privateIp: member.privateIp,
        subnetId: member.subnetId ?? network.subnetId,
        securityGroupIds: [this.securityGroupId],
        ami,
        instanceType: cluster.instanceType,
        keyName: cluster.keyName,
        rootVolumeSizeGiB: cluster.rootVolumeSizeGiB,
        associatePublicIp: network.ownsSubnet,
        userData: userData.get(member.name)!,
        userDataReferences: {
          ...(backups ? { [BACKUP_BUCKET_REFERENCE]: backups.bucketName } : {}),
          ...(dataVolume ? { [DATA_VOLUME_REFERENCE]: dataVolume.volumeId } : {}),
        },
        tags: { ...tags, Name: member.name, "etcd:member": member.name },
        rootVolumeTags: tags,
        iamInstanceProfile: role?.instanceProfileName,
        count: running ? 1 : 0,
        dependsOn: [
          ...(lifecycle.registration ? [lifecycle.registration] : []),
          ...(keyParameter?.instanceDependencies ?? []),
          ...(role?.grants ?? []),
        ],
      });
      const attachment = dataVolume?.attachTo(instance.instance.id);
      this.instances.set(member.name, instance);
      if (!running) this.withoutVm.set(member.name, member.removed ? "removed" : "registerOnly (registered, not launched)");
      const voter = lifecycle.addVoter(attachment ? [instance.instance, attachment] : [instance.instance], previousVoter);
      previousVoter = voter;
      // etcd takes one learner at a time: the next joiner registers once this one votes.
      if (member.initialClusterState === "existing") previousJoiner = voter;
    }

    this.clientEndpoints = runningMembers(cluster.members).map((m) => m.clientUrl);
    const { caCert, adminCert, adminKey } = pki.material.paths;
    new ClusterOutputs(this, "outputs", {
      outputPrefix: id,
      members: runningMembers(cluster.members),
      pki: pki.material,
      files: { caCert: displayedPath(this, caCert), adminCert: displayedPath(this, adminCert), adminKey: displayedPath(this, adminKey) },
      backupLocation: backups && `s3://${backups.bucketName}/${backups.prefix}/`,
    });

    cluster.warnings.forEach((w) => Annotations.of(this).addWarning(`EtcdCluster ${this.node.path}: ${w}`));
    // Only now, with every resource built, does anything reach the disk.
    pki.commit();
  }

  /** Lets a network or another security group reach etcd's client port 2379; a source already allowed is left as it is. */
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

  /** The directory's PKI (what it holds and lacks, in memory) or the seeded test PKI; a CA the library cannot use is a problem with pki.directory. */
  private planPki(cluster: ResolvedCluster): PkiPlan {
    try {
      return planClusterPki(this, cluster.pki, cluster.members.map(certificateRequest));
    } catch (e) {
      if (!(e instanceof PkiError)) throw e;
      throw new EtcdClusterConfigError(this.node.path, [{ path: "pki.directory", message: `pki.directory: ${e.message}` }]);
    }
  }

  /** The stack's local state file, when a LocalBackend of the stack names it (made before this construct). */
  private localStateFile(): string | undefined {
    const stack = TerraformStack.of(this);
    const backend = stack.node.children.find((c): c is LocalBackend => c instanceof LocalBackend);
    const file = (backend?.toTerraform() as { terraform?: { backend?: { local?: { path?: string } } } } | undefined)?.terraform?.backend
      ?.local?.path;
    return typeof file === "string" && !Token.isUnresolved(file) ? path.resolve(file) : undefined;
  }

  /** Terraform runs in the stack's directory: provisioners and file() find the PKI relative to it, "/"-separated. */
  private relativeToStack(): (file: string) => string {
    const stackDir = terraformWorkingDirectory(this);
    return (file) => path.relative(stackDir, path.resolve(file)).split(path.sep).join("/");
  }

  /** The member's instance role, with what its key delivery and the membership transport need. */
  private memberRole(
    cluster: ResolvedCluster,
    member: ClusterMember,
    { ssm, backups, restoreSource }: { ssm?: SsmAccess; backups?: BackupBucket; restoreSource?: RestoreSource },
    tags: Record<string, string>
  ): MemberRole {
    const purposes = [
      ...(cluster.keyDelivery.mode === "ssm" ? ["reads its private key from SSM"] : []),
      ...(cluster.membershipTransport === "ssm" ? ["runs the deploy's membership steps through SSM Run Command"] : []),
      ...(backups ? ["writes the cluster's snapshots to S3"] : []),
      ...(restoreSource ? ["reads the snapshot the cluster was restored from"] : []),
    ];
    const role = new MemberRole(this, `${member.name}-role`, { memberName: member.name, purposes, tags });
    if (ssm && cluster.membershipTransport === "ssm") role.attachManagedPolicy("ssm-managed-instance", ssm.managedInstancePolicyArn);
    if (backups) role.addInlinePolicy("etcd-backup", backups.memberPolicy());
    if (restoreSource && member.initialClusterState === "new") role.addInlinePolicy("etcd-restore", restoreSource.memberPolicy());
    return role;
  }

  /** The membership script as a Terraform asset, and how it reaches etcd. */
  private membershipAccess(
    cluster: ResolvedCluster,
    pki: PkiMaterial,
    fromStack: (file: string) => string,
    ssm: SsmAccess | undefined
  ): MembershipAccess {
    // One file, not its directory: under dist/ the directory also holds .d.ts files.
    const asset = new TerraformAsset(this, "membership-script", {
      path: path.join(__dirname, "membership", "etcd-membership.js"),
      type: AssetType.FILE,
    });
    if (cluster.membershipTransport === "ssm") {
      return {
        script: asset.path,
        transport: { kind: "ssm", clusterTag: this.initialClusterToken, region: ssm!.region, onMember: ON_MEMBER_CLIENT },
        backupFirst: cluster.backup?.beforeMembershipChanges === true,
      };
    }
    const { caCert, adminCert, adminKey } = pki.paths;
    return {
      script: asset.path,
      transport: { kind: "direct", cacert: fromStack(caCert), cert: fromStack(adminCert), key: fromStack(adminKey) },
    };
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

/**
 * A new install.version that etcd cannot move the running cluster to in one roll: what the stack's
 * local state says each member was launched with against the version synthesized now (one problem
 * per version found). Without a local state the roll checks the versions the members report.
 */
function versionChangeProblems(cluster: ResolvedCluster, stateFile: string | undefined, token: string): ConfigProblem[] {
  if (cluster.install.source !== "release" || stateFile === undefined) return [];
  const target = cluster.install.version;
  const byVersion = new Map<string, string[]>();
  for (const [member, version] of deployedVersions(stateFile, token)) byVersion.set(version, [...(byVersion.get(version) ?? []), member]);
  return [...byVersion].flatMap(([version, members]) => {
    const problem = versionChangeProblem(version, target);
    if (!problem) return [];
    const who = `${members.join(", ")} ${members.length === 1 ? "runs" : "run"} ${version}`;
    return [
      { path: "install.version", message: `install.version is "${target}" but ${who} (the Terraform state ${stateFile}): ${problem}` },
    ];
  });
}

/**
 * Unique per cluster: two clusters from one stack, or one stack in two environments, never mix;
 * and a cluster restored from a snapshot never shares the token of the one that took it.
 */
function defaultClusterToken(constructPath: string, pki: PkiMaterial, restore: ResolvedRestore | undefined): string {
  const seed = [constructPath, pki.caFingerprintSha256, ...(restore ? [`restored from ${restore.snapshotUri}`] : [])].join("\n");
  const digest = createHash("sha256").update(seed).digest("hex");
  return `etcd-${digest.slice(0, 16)}`;
}

/**
 * Stands in for the backup bucket's name in the user data until it has been escaped for Terraform
 * (the name may be a reference, which Terraform fills in). As long as the longest bucket name, so
 * the user data's size check holds for any name.
 */
const BACKUP_BUCKET_REFERENCE = "etcd-backup-bucket-name".padEnd(63, "-");

/** Stands in for the member's data volume id (vol- and 17 hex digits) in the same way. */
const DATA_VOLUME_REFERENCE = "etcd-data-volume-id".padEnd(21, "-");

function memberBackup(cluster: ResolvedCluster, prefix: string | undefined): MemberBackupInput | undefined {
  const { backup } = cluster;
  if (!backup || prefix === undefined) return undefined;
  const literalBucket = backup.bucket !== undefined && !Token.isUnresolved(backup.bucket) ? backup.bucket : undefined;
  return {
    // A created bucket is in the stack's region, as are the instances; a bucket brought from
    // elsewhere is reached through S3's redirect to its region.
    target: { bucket: literalBucket ?? BACKUP_BUCKET_REFERENCE, prefix, region: "", kmsKeyId: backup.kmsKeyId },
    schedule: backup.schedule,
    metricNamespace: backup.metricNamespace,
  };
}

function renderAllUserData(
  cluster: ResolvedCluster,
  pki: PkiMaterial,
  initialClusterToken: string,
  backupPrefix: string | undefined
): Map<string, string> {
  const backup = memberBackup(cluster, backupPrefix);
  const restore = cluster.restoreFrom && { snapshotUri: cluster.restoreFrom.snapshotUri, region: cluster.restoreFrom.region ?? "" };
  return new Map(
    cluster.members.map((member) => {
      const credentials = pki.members.get(member.name)!;
      const userData = renderMemberUserData({
        member,
        initialCluster: initialClusterFor(member, cluster.members),
        initialClusterToken,
        settings: cluster.etcdSettings,
        caCertPem: pki.caCertPem,
        certPem: credentials.certPem,
        keyDelivery:
          cluster.keyDelivery.mode === "ssm"
            ? { mode: "ssm", parameterName: memberKeyParameterName(initialClusterToken, member.name) }
            : { mode: "user-data", keyPem: credentials.keyPem },
        install: cluster.install,
        backup,
        restore,
        dataVolumeId: cluster.dataVolume ? DATA_VOLUME_REFERENCE : undefined,
      });
      return [member.name, userData];
    })
  );
}
