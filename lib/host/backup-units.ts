/** The paths of a member's backup command and its systemd units. */
export const BACKUP_PATHS = {
  command: "/usr/local/sbin/etcd-backup",
  /** What the command reads at each run: the bucket's name, once Terraform has filled it in. */
  settings: "/etc/etcd/backup.conf",
  service: "/etc/systemd/system/etcd-backup.service",
  timer: "/etc/systemd/system/etcd-backup.timer",
} as const;

export const BACKUP_TIMER = "etcd-backup.timer";

/**
 * etcd-backup.service: one run of the backup command. A failed run leaves the unit failed (and
 * its journal), which is what `systemctl --failed` and a node exporter's systemd collector see;
 * no Restart, since the next tick is the retry.
 */
export function renderBackupService(): string {
  return `[Unit]
Description=etcd snapshot to S3 (on the leader; --force anywhere)
After=etcd.service network-online.target
Wants=network-online.target

[Service]
Type=oneshot
ExecStart=${BACKUP_PATHS.command}
Nice=10
IOSchedulingClass=best-effort
IOSchedulingPriority=7
TimeoutStartSec=30min
`;
}

/**
 * etcd-backup.timer on every member. Each one's run asks its own etcd who leads, and only the
 * leader saves: AccuracySec=1s keeps the members' runs within a second of one another, so a
 * change of leader between them is unlikely to make an interval's snapshot twice or not at all.
 */
export function renderBackupTimer(schedule: string): string {
  if (!/^[A-Za-z0-9*,:/.~ -]+$/.test(schedule)) {
    throw new Error(`backup timer: schedule ${JSON.stringify(schedule)} is not a systemd calendar event`);
  }
  return `[Unit]
Description=etcd snapshot schedule

[Timer]
OnCalendar=${schedule}
AccuracySec=1s

[Install]
WantedBy=timers.target
`;
}
