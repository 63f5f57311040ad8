export interface SystemdUnitInput {
  /** Absolute path of the etcd binary. */
  readonly execStart: string;
  /** The etcd.conf that holds every ETCD_* setting. */
  readonly environmentFile: string;
  readonly user: string;
  /**
   * A mount point etcd's data must be on (the data volume's): the unit waits for its mount and
   * refuses to start where it is not mounted, so etcd never starts on the empty directory under it.
   * @default none: the data directory is on the root volume
   */
  readonly dataMount?: string;
}

/**
 * The etcd.service unit. etcd reads its whole configuration from ETCD_* variables, so
 * ExecStart has no flags: the EnvironmentFile is the one place a member's settings live.
 */
export function renderSystemdUnit(input: SystemdUnitInput): string {
  for (const [name, value] of Object.entries(input).filter(([, v]) => v !== undefined)) {
    if (!/^[^\s"'\\$%;]+$/.test(value))
      throw new Error(`systemd unit: ${name} ${JSON.stringify(value)} must be one word without quotes, $, % or ;`);
  }
  if (![input.execStart, input.environmentFile, input.dataMount ?? "/"].every((p) => p.startsWith("/"))) {
    throw new Error("systemd unit: execStart, environmentFile and dataMount must be absolute paths");
  }
  return `[Unit]
Description=etcd cluster member
Documentation=https://etcd.io/docs/
After=network-online.target
Wants=network-online.target
${input.dataMount === undefined ? "" : `RequiresMountsFor=${input.dataMount}\nAssertPathIsMountPoint=${input.dataMount}\n`}
[Service]
Type=notify
User=${input.user}
EnvironmentFile=${input.environmentFile}
ExecStart=${input.execStart}
Restart=on-failure
RestartSec=5s
LimitNOFILE=65536
# A member of a new cluster only reports ready once a quorum of members is up.
TimeoutStartSec=0

[Install]
WantedBy=multi-user.target
`;
}
