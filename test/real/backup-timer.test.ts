// The members' backup timer as the user data installs it, in real machines booted by real
// cloud-init and systemd, in a cluster deployed by the real Terraform: the command arrives intact
// (gzipped in the user data), the timer fires on its schedule on every member, only the leader
// goes on to take the snapshot, and a failed upload fails the unit loudly.
//
// What this lab cannot do yet is let the upload succeed: its machines have a stand-in for the AWS
// CLI that serves only `aws ssm get-parameter`, and no S3 endpoint. The upload path itself runs
// against a real S3 server with the real CLI in test/backup/.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseCloudConfig } from "../../lib/host/cloud-config";
import type { Lab } from "../../lib/lab";
import { unescapeTemplate } from "../../lib/terraform-string";
import { LabProject, SEED, seedLab } from "./real-lab";

const LAB = "etcdbackup";
// Every 10 seconds: the test sees several ticks in under a minute.
const SCHEDULE = "*:*:0/10";
const project = new LabProject(LAB, { clusterProps: { backup: { bucket: "lab-etcd-backups", schedule: SCHEDULE } } });
let lab: Lab;

beforeAll(async () => {
  lab = await seedLab(project);
});
afterAll(() => project.remove());

async function inMachine(member: string, ...argv: string[]): Promise<string> {
  const r = await lab.machineExec(member, argv);
  return `${r.stdout}${r.stderr}`.trim();
}

/** The backup unit's runs so far, as its journal tells them (one line per message). */
async function backupJournal(member: string): Promise<string[]> {
  const text = await inMachine(member, "journalctl", "-u", "etcd-backup.service", "--no-pager", "-o", "cat");
  return text.split("\n").filter((line) => line.startsWith("etcd-backup: "));
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

test("GIVEN a deploy with backups THEN each member has the exact command, its bucket setting, and the timer enabled on the schedule", async () => {
  const stack = JSON.parse(readFileSync(join(project.stackDir, "cdk.tf.json"), "utf8"));
  for (const member of SEED) {
    // The lab is healthy once etcd is: cloud-init enables the timer just after, in its runcmd.
    expect(await inMachine(member.name, "cloud-init", "status", "--wait")).toMatch(/status: done$/);
    // The command cloud-init wrote is the one the stack carries (decoded from gz+b64), byte for byte.
    const instance = Object.values(stack.resource.aws_instance).find((i: any) => i.tags["etcd:member"] === member.name) as any;
    const carried = parseCloudConfig(unescapeTemplate(instance.user_data)).writeFiles!.find((f) => f.path === "/usr/local/sbin/etcd-backup")!;
    expect(await inMachine(member.name, "sha256sum", "/usr/local/sbin/etcd-backup")).toBe(
      `${createHash("sha256").update(carried.content).digest("hex")}  /usr/local/sbin/etcd-backup`
    );
    expect(carried.content).toContain(`MEMBER='${member.name}'`);
    expect(await inMachine(member.name, "stat", "-c", "%a %U", "/usr/local/sbin/etcd-backup")).toBe("755 root");
    expect(await inMachine(member.name, "cat", "/etc/etcd/backup.conf")).toBe("BUCKET='lab-etcd-backups'");
    expect(await inMachine(member.name, "systemctl", "is-enabled", "etcd-backup.timer")).toBe("enabled");
    expect(await inMachine(member.name, "systemctl", "show", "-P", "TimersCalendar", "etcd-backup.timer")).toContain(
      "OnCalendar=*-*-* *:*:00/10"
    );
  }
});

test("GIVEN the timer WHEN it fires THEN every member runs, the followers stand down, and the leader's failed upload fails its unit", async () => {
  const leader = (await lab.leader())!;
  expect(leader).toBeDefined();
  const followers = SEED.map((m) => m.name).filter((m) => m !== leader);

  // WHEN a few ticks have passed, THEN each follower has said, and only said, that it is not the leader
  for (const follower of followers) {
    const lines = await until(`a run on ${follower}`, async () => {
      const journal = await backupJournal(follower);
      return journal.length >= 2 ? journal : undefined;
    });
    expect(new Set(lines)).toEqual(new Set(["etcd-backup: not the leader: the leader takes the scheduled backup"]));
    expect(await inMachine(follower, "systemctl", "show", "-P", "Result", "etcd-backup.service")).toBe("success");
  }

  // AND the leader took the snapshot, and then failed at the upload: loud in the journal and the unit's state
  const failure = await until(`a failed run on ${leader}`, async () =>
    (await backupJournal(leader)).find((line) => line.startsWith("etcd-backup: failed at "))
  );
  expect(failure).toMatch(/^etcd-backup: failed at upload: listing s3:\/\/lab-etcd-backups\/etcd\/etcd-[0-9a-f]{16}\/\d{8}$/);
  expect(await inMachine(leader, "systemctl", "show", "-P", "Result", "etcd-backup.service")).toBe("exit-code");
  expect(await inMachine(leader, "systemctl", "show", "-P", "ExecMainStatus", "etcd-backup.service")).toBe("1");
  // AND the next tick is the retry: the timer stays armed
  expect(await inMachine(leader, "systemctl", "is-active", "etcd-backup.timer")).toBe("active");
});
