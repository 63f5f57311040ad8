import { spawnSync } from "child_process";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { renderSystemdUnit } from "../../lib/host/systemd-unit";
import { requireTool } from "../support/tools";

const UNIT_INPUT = { execStart: "/usr/local/bin/etcd", environmentFile: "/etc/etcd/etcd.conf", user: "etcd" };

describe("renderSystemdUnit", () => {
  test("runs etcd as a notify service configured only by its EnvironmentFile", () => {
    // GIVEN the release install's binary path
    // WHEN the unit is rendered
    const unit = renderSystemdUnit(UNIT_INPUT);
    // THEN it has the settings the recipe's service needs
    const lines = unit.split("\n");
    for (const line of [
      "[Unit]",
      "Documentation=https://etcd.io/docs/",
      "After=network-online.target",
      "Wants=network-online.target",
      "[Service]",
      "Type=notify",
      "User=etcd",
      "EnvironmentFile=/etc/etcd/etcd.conf",
      "ExecStart=/usr/local/bin/etcd",
      "Restart=on-failure",
      "RestartSec=5s",
      "LimitNOFILE=65536",
      "TimeoutStartSec=0",
      "[Install]",
      "WantedBy=multi-user.target",
    ]) {
      expect(lines).toContain(line);
    }
    expect(lines.find((line) => line.startsWith("Description="))).toBeDefined();
    expect(unit).toMatchSnapshot();
  });

  test.each([
    ["a relative binary", { ...UNIT_INPUT, execStart: "etcd" }, /absolute paths/],
    ["flags smuggled into ExecStart", { ...UNIT_INPUT, execStart: "/usr/bin/etcd --force-new-cluster" }, /execStart/],
    ["a newline in the user", { ...UNIT_INPUT, user: "etcd\nExecStartPre=/bin/sh" }, /user/],
    ["a specifier", { ...UNIT_INPUT, environmentFile: "/etc/%i.conf" }, /environmentFile/],
    ["a relative data mount", { ...UNIT_INPUT, dataMount: "var/lib/etcd" }, /dataMount/],
    ["a second path in the data mount", { ...UNIT_INPUT, dataMount: "/var/lib/etcd /" }, /dataMount/],
  ])("refuses %s", (_what, input, message) => {
    // GIVEN a value that would change the unit's meaning WHEN rendered THEN it throws, naming the field
    expect(() => renderSystemdUnit(input)).toThrow(message);
  });
});

describe("systemd-analyze verify", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "etcd-unit-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const verify = (unit: string) => {
    const tool = requireTool("systemd-analyze", "systemd");
    const file = join(dir, "etcd.service");
    writeFileSync(file, unit);
    const result = spawnSync(tool, ["verify", file], { encoding: "utf8" });
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
  };

  test("accepts the rendered unit", () => {
    // GIVEN the unit rendered for a binary that exists here (the Debian package's etcd)
    requireTool("etcd", "etcd-server");
    // WHEN systemd verifies it (in this container it prints nothing at all for a good unit)
    const { status, output } = verify(renderSystemdUnit({ ...UNIT_INPUT, execStart: "/usr/bin/etcd" }));
    // THEN it reports no problem with etcd.service
    expect(output.split("\n").filter((line) => line.includes("etcd.service"))).toEqual([]);
    expect(status).toBe(0);
  });

  test("accepts the unit that needs the data volume's mount", () => {
    requireTool("etcd", "etcd-server");
    const unit = renderSystemdUnit({ ...UNIT_INPUT, execStart: "/usr/bin/etcd", dataMount: "/var/lib/etcd" });
    expect(unit).toContain("\nRequiresMountsFor=/var/lib/etcd\nAssertPathIsMountPoint=/var/lib/etcd\n");
    const { status, output } = verify(unit);
    expect(output.split("\n").filter((line) => line.includes("etcd.service"))).toEqual([]);
    expect(status).toBe(0);
  });

  test("reports a broken unit, so the check above can fail", () => {
    // GIVEN a unit with a missing binary and an invalid Type
    const broken = renderSystemdUnit({ ...UNIT_INPUT, execStart: "/nonexistent/etcd" }).replace("Type=notify", "Type=bogus");
    // WHEN verified THEN both problems are reported against etcd.service
    const { status, output } = verify(broken);
    expect(status).not.toBe(0);
    expect(output).toMatch(/etcd\.service.*bogus/);
    expect(output).toContain("/nonexistent/etcd is not executable");
  });
});
