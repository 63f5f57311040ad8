import type { ClusterMember } from "../cluster-members";
import { renderEtcdConf, type EtcdConfInput } from "../etcd/etcd-conf";
import type { InstallPlan } from "../etcd/releases";
import { renderBackupScript, type BackupTarget } from "../backup/backup-script";
import { renderRestoreScript } from "../backup/restore-script";
import { BACKUP_PATHS, BACKUP_TIMER, renderBackupService, renderBackupTimer } from "./backup-units";
import { shQuote } from "../shell-quote";
import { renderBootScript } from "./boot-script";
import { renderDataVolumeSettings } from "./data-volume-script";
import { parseCloudConfig, renderCloudConfig, type CloudConfigFile } from "./cloud-config";
import { renderSystemdUnit } from "./systemd-unit";

/** Where a member's files live, as in the seed recipe. */
export const ETCD_PATHS = {
  caCert: "/etc/etcd/ssl/ca.pem",
  cert: "/etc/etcd/ssl/etcd.pem",
  key: "/etc/etcd/ssl/etcd-key.pem",
  conf: "/etc/etcd/etcd.conf",
  unit: "/etc/systemd/system/etcd.service",
  bootScript: "/usr/local/sbin/etcd-bootstrap",
  restoreScript: "/usr/local/sbin/etcd-restore",
  dataVolumeSettings: "/etc/etcd/data-volume.conf",
  dataRoot: "/var/lib/etcd",
} as const;

/** The system user etcd runs as; it owns the private key and the data directory. */
export const ETCD_USER = "etcd";

/** The client URL the boot script's health check uses: etcd.conf always listens on it. */
const LOCAL_CLIENT_URL = "https://127.0.0.1:2379";

/**
 * How a command running on the member reaches its own etcd: the loopback client URL (in the
 * certificate's SANs) with the member's own certificate, which has clientAuth. What the SSM
 * membership transport's Run Command uses.
 */
export const ON_MEMBER_CLIENT = { url: LOCAL_CLIENT_URL, cacert: ETCD_PATHS.caCert, cert: ETCD_PATHS.cert, key: ETCD_PATHS.key } as const;

/**
 * How the member's private key reaches ETCD_PATHS.key. "user-data" writes it from the user data
 * itself, where anyone who can read the instance's attributes, IMDS, cloud-init's cache or the
 * Terraform state sees it. "ssm" leaves it out: the boot script reads it from an SSM SecureString
 * parameter with the instance profile's credentials (see MemberKeyParameter).
 */
export type KeyDelivery =
  | { readonly mode: "user-data"; readonly keyPem: string }
  | { readonly mode: "ssm"; readonly parameterName: string };

/** Scheduled snapshots: where they go, and when the timer fires. */
export interface MemberBackupInput {
  readonly target: BackupTarget;
  /** systemd OnCalendar. */
  readonly schedule: string;
  readonly metricNamespace: string;
}

/** The snapshot a bootstrap member restores before etcd's first start. */
export interface MemberRestoreInput {
  readonly snapshotUri: string;
  /** Empty: the instance's region. */
  readonly region: string;
}

/**
 * What varies from member to member. The paths, the user, the data root and the local client URL
 * are this renderer's own: callers cannot get them wrong because they never pass them.
 */
export interface MemberUserDataInput {
  /** ETCD_NAME, its peer and client URLs, and whether it bootstraps the cluster or joins it. */
  readonly member: Pick<ClusterMember, "name" | "peerUrl" | "clientUrl" | "initialClusterState">;
  /** ETCD_INITIAL_CLUSTER: see initialClusterFor. */
  readonly initialCluster: EtcdConfInput["initialCluster"];
  readonly initialClusterToken: string;
  /** Further ETCD_* settings (from `tuningSettings`). */
  readonly settings: Readonly<Record<string, string>>;
  readonly caCertPem: string;
  readonly certPem: string;
  readonly keyDelivery: KeyDelivery;
  readonly install: InstallPlan;
  /** Undefined: no backups. */
  readonly backup?: MemberBackupInput;
  /** Undefined, or a joining member: etcd starts with an empty data directory. */
  readonly restore?: MemberRestoreInput;
  /**
   * The member's data volume (its id, or a placeholder for it), mounted at the data root.
   * Undefined: the data directory is on the root volume.
   */
  readonly dataVolumeId?: string;
  /** How long the boot script waits for the member to report healthy. Default 600. */
  readonly healthTimeoutSeconds?: number;
}

/** The member's /etc/etcd/etcd.conf: its own URLs, this renderer's paths, and loopback for the health check. */
export function memberEtcdConf(input: Omit<MemberUserDataInput, "caCertPem" | "certPem" | "keyDelivery" | "install">): EtcdConfInput {
  const { member } = input;
  return {
    name: member.name,
    dataDir: `${ETCD_PATHS.dataRoot}/${member.name}.etcd`,
    listenPeerUrls: [member.peerUrl],
    listenClientUrls: [member.clientUrl, LOCAL_CLIENT_URL],
    initialAdvertisePeerUrls: [member.peerUrl],
    advertiseClientUrls: [member.clientUrl],
    initialCluster: input.initialCluster,
    initialClusterState: member.initialClusterState,
    initialClusterToken: input.initialClusterToken,
    tls: { certFile: ETCD_PATHS.cert, keyFile: ETCD_PATHS.key, trustedCaFile: ETCD_PATHS.caCert },
    settings: input.settings,
  };
}

/** The EC2 user data of one member: a #cloud-config that writes its files (the key only in "user-data" mode) and runs the boot script. */
export function renderMemberUserData(input: MemberUserDataInput): string {
  const { keyDelivery } = input;
  return renderCloudConfig({
    users: ["default", { name: ETCD_USER, system: true, shell: "/sbin/nologin", homedir: ETCD_PATHS.dataRoot }],
    writeFiles: [
      { path: ETCD_PATHS.caCert, content: input.caCertPem, permissions: "0644" },
      { path: ETCD_PATHS.cert, content: input.certPem, permissions: "0644" },
      // Deferred: write_files runs before the users module has created the etcd user.
      ...(keyDelivery.mode === "user-data"
        ? [{ path: ETCD_PATHS.key, content: keyDelivery.keyPem, permissions: "0600", owner: `${ETCD_USER}:${ETCD_USER}`, defer: true }]
        : []),
      { path: ETCD_PATHS.conf, content: renderEtcdConf(memberEtcdConf(input)), permissions: "0644" },
      {
        path: ETCD_PATHS.unit,
        content: renderSystemdUnit({
          execStart: `${input.install.binDir}/etcd`,
          environmentFile: ETCD_PATHS.conf,
          user: ETCD_USER,
          dataMount: input.dataVolumeId === undefined ? undefined : ETCD_PATHS.dataRoot,
        }),
        permissions: "0644",
      },
      {
        path: ETCD_PATHS.bootScript,
        content: renderBootScript({
          install: input.install,
          dataDir: ETCD_PATHS.dataRoot,
          user: ETCD_USER,
          confFile: ETCD_PATHS.conf,
          healthTimeoutSeconds: input.healthTimeoutSeconds ?? 600,
          keyParameter: keyDelivery.mode === "ssm" ? keyDelivery.parameterName : undefined,
          restoreCommand: restoring(input) ? ETCD_PATHS.restoreScript : undefined,
          dataVolumeSettings: input.dataVolumeId === undefined ? undefined : ETCD_PATHS.dataVolumeSettings,
        }),
        permissions: "0755",
        // Every byte of it counts against EC2's 16 KB; what Terraform fills in is in files of their own.
        compress: true,
      },
      ...dataVolumeFiles(input),
      ...restoreFiles(input),
      ...backupFiles(input),
    ],
    runcmd: [[ETCD_PATHS.bootScript], ...(input.backup ? [["systemctl", "enable", "--now", BACKUP_TIMER]] : [])],
  });
}

/** Only the members that bootstrap the cluster restore it; a joiner syncs from them. */
function restoring(input: MemberUserDataInput): boolean {
  return input.restore !== undefined && input.member.initialClusterState === "new";
}

function restoreFiles(input: MemberUserDataInput): CloudConfigFile[] {
  if (!restoring(input)) return [];
  const conf = memberEtcdConf(input);
  const command = renderRestoreScript({
    snapshotUri: input.restore!.snapshotUri,
    region: input.restore!.region,
    etcdMinor: "",
    binDir: input.install.binDir,
    memberName: input.member.name,
    peerUrl: input.member.peerUrl,
    initialCluster: conf.initialCluster.map((m) => `${m.name}=${m.peerUrl}`).join(","),
    clusterToken: input.initialClusterToken,
    dataDir: conf.dataDir,
    user: ETCD_USER,
  });
  return [{ path: ETCD_PATHS.restoreScript, content: command, permissions: "0755", compress: true }];
}

function dataVolumeFiles(input: MemberUserDataInput): CloudConfigFile[] {
  if (input.dataVolumeId === undefined) return [];
  return [
    {
      path: ETCD_PATHS.dataVolumeSettings,
      content: renderDataVolumeSettings(input.dataVolumeId, ETCD_PATHS.dataRoot),
      permissions: "0644",
    },
  ];
}

function backupFiles(input: MemberUserDataInput): CloudConfigFile[] {
  const { backup } = input;
  if (!backup) return [];
  const command = renderBackupScript({
    target: { ...backup.target, bucket: "" },
    settingsFile: BACKUP_PATHS.settings,
    clusterToken: input.initialClusterToken,
    memberName: input.member.name,
    binDir: input.install.binDir,
    client: ON_MEMBER_CLIENT,
    metricNamespace: backup.metricNamespace,
  });
  return [
    { path: BACKUP_PATHS.settings, content: `BUCKET=${shQuote(backup.target.bucket)}\n`, permissions: "0644" },
    { path: BACKUP_PATHS.command, content: command, permissions: "0755", compress: true },
    { path: BACKUP_PATHS.service, content: renderBackupService(), permissions: "0644" },
    { path: BACKUP_PATHS.timer, content: renderBackupTimer(backup.schedule), permissions: "0644" },
  ];
}

/**
 * The etcd release a member's user data installs ("v3.5.30"), read back from its boot script's
 * download URL; undefined for a package install (its version is the repository's) or text this
 * renderer did not write.
 */
export function installedVersion(userData: string): string | undefined {
  try {
    const boot = (parseCloudConfig(userData).writeFiles ?? []).find((f) => f.path === ETCD_PATHS.bootScript)?.content ?? "";
    return /^ETCD_URL='[^']*\/(v\d+\.\d+\.\d+)\/etcd-v\d+\.\d+\.\d+-linux-[a-z0-9]+\.tar\.gz'$/m.exec(boot)?.[1];
  } catch {
    return undefined;
  }
}
