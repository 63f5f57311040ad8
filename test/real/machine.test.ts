// Issue 10: each member is a real system. systemd is PID 1, cloud-init consumes the exact user data
// the stack synthesized, the boot script installs etcd from the lab's release mirror after checking
// its SHA-256, and the key arrives from SSM through the boot script's own fetch_key.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { labEtcdInstall } from "../../lib/lab";
import { launchedUserData } from "../support/lab-project";
import { expectMemberHolds, LabProject, labCli, putKeys, record, requireLabHost, SEED, useSeedLab } from "./real-lab";

const seed = useSeedLab("realmachine");

// etcd answers the deployer before the boot script's own health poll (every 5 s) reports it, and
// cloud-init's final stage ends: the assertions below are about the finished boot.
beforeAll(async () => {
  for (const m of SEED) await seed.lab.machineExec(m.name, ["cloud-init", "status", "--wait"], { timeoutMs: 60_000 });
});

async function inside(member: string, script: string): Promise<string> {
  const r = await seed.lab.machineExec(member, ["sh", "-c", script], { timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`${member}: ${script} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

describe.each(SEED.map((m) => m.name))("%s", (member) => {
  test("cloud-init ran every stage of the exact user data: done, no errors, a valid schema", async () => {
    // GIVEN the seed cluster deployed by Terraform
    // THEN cloud-init inside the machine is done without errors
    const status = await seed.lab.machineExec(member, ["cloud-init", "status", "--long"]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^status: done$/m);
    expect(status.stdout).toMatch(/^detail:\n(DataSourceNoCloud.*)$/m);
    // AND its recorded result lists no errors, and the schema check of the user data it got is clean
    const result = JSON.parse(await inside(member, "cat /run/cloud-init/result.json"));
    expect(result.v1.errors).toEqual([]);
    const schema = await seed.lab.machineExec(member, ["cloud-init", "schema", "--system"]);
    expect(`${schema.stdout}${schema.stderr}`.trim()).toBe("Valid cloud-config: system userdata");
    // AND cloud-init logged no warning of its own (a schema warning, a failed module) while it ran
    const warnings = await inside(member, "grep -h -E '\\[(WARNING|ERROR)\\]' /var/log/cloud-init.log || true");
    expect(warnings.trim().split("\n").filter(Boolean)).toEqual([]);
    // AND the user data it consumed is byte-identical to the synthesized one
    const consumed = await inside(member, "cat /var/lib/cloud/instance/user-data.txt");
    expect(consumed).toBe(launchedUserData(seed.project, member));
  });

  test("systemd runs etcd from the release the boot script verified and installed", async () => {
    expect((await inside(member, "systemctl is-active etcd")).trim()).toBe("active");
    expect((await inside(member, "systemctl is-enabled etcd")).trim()).toBe("enabled");
    // The tarball's etcd, unpacked into the unit's bin dir: the machine image has none of its own.
    const { version } = labEtcdInstall();
    expect(await inside(member, "/usr/local/bin/etcd --version")).toContain(`etcd Version: ${version.slice(1)}`);
    expect(await inside(member, "ls /usr/bin/etcd 2>&1 || true")).toMatch(/No such file/);
    const output = await inside(member, "cat /var/log/cloud-init-output.log");
    expect(output).toContain(
      `etcd-bootstrap: downloading http://169.254.169.254/etcd-releases/${version}/etcd-${version}-linux-amd64.tar.gz`
    );
    expect(output).toContain("etcd-bootstrap: etcd is healthy");
  });

  test("the private key came from SSM through fetch_key: 0600, owned by etcd", async () => {
    const stat = await inside(member, "stat -c '%a %U:%G' /etc/etcd/ssl/etcd-key.pem");
    expect(stat.trim()).toBe("600 etcd:etcd");
    expect(await inside(member, "cat /var/log/cloud-init-output.log")).toContain("etcd-bootstrap: wrote /etc/etcd/ssl/etcd-key.pem");
    // AND the user data never held it
    expect(launchedUserData(seed.project, member)).not.toMatch(/PRIVATE KEY-{5}/);
    // AND the lab's AWS endpoint served the parameter to this instance, after instance metadata
    const endpointLog = readFileSync(join("/run", "realmachine", "aws-endpoint.log"), "utf8");
    const ip = SEED.find((m) => m.name === member)!.privateIp;
    expect(endpointLog).toMatch(new RegExp(`${ip.replace(/\./g, "\\.")} PUT /latest/api/token 200`));
    expect(endpointLog).toMatch(new RegExp(`${ip.replace(/\./g, "\\.")} POST / AmazonSSM.GetParameter 200`));
  });
});

test("a SIGKILLed etcd is restarted by systemd, and the member rejoins", async () => {
  // GIVEN etcd_node2's etcd
  const before = seed.lab.pid("etcd_node2")!;
  expect(before).toBeGreaterThan(0);
  // WHEN it is SIGKILLed inside its machine
  await inside("etcd_node2", "kill -KILL $(systemctl show -p MainPID --value etcd)");
  // THEN systemd starts it again (Restart=) and the member is healthy with a new process
  const t = Date.now();
  await seed.lab.waitHealthy(["etcd_node2"], 30_000);
  record("realmachine", "SIGKILLed etcd restarted by systemd to healthy", Date.now() - t);
  expect(seed.lab.pid("etcd_node2")).not.toBe(before);
  expect(await inside("etcd_node2", "systemctl show -p NRestarts --value etcd")).toMatch(/^[1-9]/);
});

test("`lab reboot` boots the same disk again: cloud-init does not rerun the boot script, and the member rejoins", async () => {
  // GIVEN keys written before the reboot
  const keys = await putKeys(seed.lab, "reboot", 10);
  const bootId = await inside("etcd_node3", "cat /proc/sys/kernel/random/boot_id");
  // WHEN the operator reboots etcd_node3
  const t = Date.now();
  const { code, lines } = await labCli(["reboot", "etcd_node3", "--name", "realmachine"]);
  expect(code).toBe(0);
  expect(lines.join("\n")).toContain("rebooted etcd_node3's machine i-");
  await seed.lab.waitHealthy(["etcd_node3"], 60_000);
  record("realmachine", "lab reboot to healthy", Date.now() - t);
  // THEN it is another boot of the same instance
  expect(await inside("etcd_node3", "cat /proc/sys/kernel/random/boot_id")).not.toBe(bootId);
  // AND the boot script ran once in all: one download, one "etcd is healthy", one key written
  const output = await inside("etcd_node3", "cat /var/log/cloud-init-output.log");
  expect(output.match(/etcd-bootstrap: downloading/g)).toHaveLength(1);
  expect(output.match(/etcd-bootstrap: wrote /g)).toHaveLength(1);
  expect(output.match(/Cloud-init v\. \S+ running 'init'/g)!.length).toBeGreaterThanOrEqual(2);
  // AND the member holds what was written, from its own data
  await expectMemberHolds(seed.lab, "etcd_node3", "reboot", keys);
});

describe("a wrong install.sha256", () => {
  const project = new LabProject("realbadsha");
  afterAll(() => project.remove());

  test("fails the boot with the mismatch on the console, installs nothing, and the lab shows why", async () => {
    requireLabHost();
    // GIVEN a stack whose install.sha256 is not the tarball's
    const good = labEtcdInstall();
    const wrong = good.sha256.replace(/^./, (c) => (c === "0" ? "1" : "0"));
    project.synth(SEED.slice(0, 1), { install: { ...good, sha256: wrong } });
    // WHEN it is deployed
    const failure = await project.deploy({ healthyTimeoutMs: 20_000 }).then(
      () => undefined,
      (e: Error) => e
    );
    // THEN the deploy fails, quoting from inside the machine why: cloud-init's error and the boot script's message
    expect(failure?.message).toMatch(/not healthy after 20 s: etcd_node1/);
    expect(failure?.message).toContain("status: error");
    const { Lab } = await import("../../lib/lab");
    const lab = Lab.attach("realbadsha");
    expect(readFileSync(lab.consoleLog("etcd_node1"), "utf8")).toContain(`SHA-256 mismatch for ${good.mirrorUrl}/${good.version}/`);
    const installed = await lab.machineExec("etcd_node1", ["sh", "-c", "ls /usr/local/bin; systemctl is-active etcd || true"]);
    expect(installed.stdout).not.toMatch(/^etcd(ctl)?$/m);
    expect(installed.stdout.trim().split("\n").pop()).toBe("inactive");
  });
});
