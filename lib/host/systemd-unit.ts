export interface SystemdUnitInput {
  /** Absolute path of the etcd binary. */
  readonly execStart: string;
  /** The etcd.conf that holds every ETCD_* setting. */
  readonly environmentFile: string;
  readonly user: string;
}

/**
 * The etcd.service unit. etcd reads its whole configuration from ETCD_* variables, so
 * ExecStart has no flags: the EnvironmentFile is the one place a member's settings live.
 */
export function renderSystemdUnit(input: SystemdUnitInput): string {
  for (const [name, value] of Object.entries(input)) {
    if (!/^[^\s"'\\$%;]+$/.test(value))
      throw new Error(`systemd unit: ${name} ${JSON.stringify(value)} must be one word without quotes, $, % or ;`);
  }
  if (!input.execStart.startsWith("/") || !input.environmentFile.startsWith("/")) {
    throw new Error("systemd unit: execStart and environmentFile must be absolute paths");
  }
  return `[Unit]
Description=etcd cluster member
Documentation=https://etcd.io/docs/
After=network-online.target
Wants=network-online.target

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
