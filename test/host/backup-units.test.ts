// The backup service and timer as real systemd reads them: systemd-analyze verify and calendar.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { BACKUP_PATHS, renderBackupService, renderBackupTimer } from "../../lib/host/backup-units";
import { DEFAULTS } from "../../lib/config/defaults";
import { temporaryDirectory } from "../support/temp";
import { requireTool } from "../support/tools";

let dir: string;
beforeAll(() => {
  dir = temporaryDirectory("backup-units-");
});

function analyze(...args: string[]) {
  const r = spawnSync(requireTool("systemd-analyze", "systemd"), args, { encoding: "utf8" });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** Verifies the pair, the service's command standing in at a path of this test's (the real one is not installed here). */
function verify(service: string, timer: string) {
  const command = join(dir, "etcd-backup");
  writeFileSync(command, "#!/bin/sh\n", { mode: 0o755 });
  writeFileSync(join(dir, "etcd-backup.service"), service.replace(`ExecStart=${BACKUP_PATHS.command}`, `ExecStart=${command}`));
  writeFileSync(join(dir, "etcd-backup.timer"), timer);
  return analyze("verify", join(dir, "etcd-backup.timer"), join(dir, "etcd-backup.service"));
}

test.each([DEFAULTS.backup.schedule, "hourly", "*-*-* 02:00:00", "Mon..Fri *-*-* 00/4:30"])(
  "GIVEN the schedule %s WHEN systemd verifies the units THEN it finds no problem",
  (schedule) => {
    const { status, output } = verify(renderBackupService(), renderBackupTimer(schedule));
    expect(output.split("\n").filter((line) => line.includes("etcd-backup"))).toEqual([]);
    expect(status).toBe(0);
  }
);

test("GIVEN a schedule systemd cannot parse WHEN verified THEN systemd refuses the timer, so the check above can fail", () => {
  const { status, output } = verify(renderBackupService(), renderBackupTimer("*:0/99x"));
  expect(status).not.toBe(0);
  expect(output).toMatch(/etcd-backup\.timer:\d+: Failed to parse calendar specification, ignoring: \*:0\/99x/);
});

test("GIVEN the default schedule THEN systemd fires it every 15 minutes", () => {
  const { status, output } = analyze("calendar", "--iterations=3", DEFAULTS.backup.schedule);
  expect(status).toBe(0);
  expect(output).toContain("Normalized form: *-*-* *:00/15:00");
  const times = [...output.matchAll(/(?:Next elapse|Iter\. #\d): \w{3} (\S+ \S+) UTC/g)].map((m) => Date.parse(`${m[1]}Z`));
  expect(times).toHaveLength(3);
  expect(times[1] - times[0]).toBe(15 * 60_000);
  expect(times[2] - times[1]).toBe(15 * 60_000);
});

test("GIVEN the service THEN it is a oneshot of etcd-backup that never restarts itself (the next tick retries)", () => {
  const lines = renderBackupService().split("\n");
  expect(lines).toEqual(
    expect.arrayContaining(["Type=oneshot", `ExecStart=${BACKUP_PATHS.command}`, "After=etcd.service network-online.target"])
  );
  expect(lines.some((l) => l.startsWith("Restart="))).toBe(false);
});

test.each(["hourly\nExecStart=/bin/sh", "'daily'", "${x}"])("GIVEN the schedule %j THEN the timer is not rendered", (schedule) => {
  expect(() => renderBackupTimer(schedule)).toThrow(/is not a systemd calendar event/);
});
