import * as fs from "node:fs";
import * as path from "node:path";
import { COMMAND_HELP, LAB_HELP } from "../../lib/cli/help";
import { main } from "../../lib/cli/main";

async function run(...argv: string[]): Promise<{ code: number; text: string }> {
  const lines: string[] = [];
  const code = await main(argv, (l) => lines.push(l));
  return { code, text: lines.join("\n") };
}

// Help needs nothing: no connection, no stack, no lab, no root. ETCDCTL_* are cleared so that a
// command which ignored --help would fail on the missing connection instead of passing.
describe("etcd-cluster --help", () => {
  const saved = { ...process.env };
  beforeEach(() => Object.keys(process.env).filter((k) => k.startsWith("ETCDCTL_")).forEach((k) => delete process.env[k]));
  afterAll(() => Object.assign(process.env, saved));

  test.each(["status", "members", "add", "promote", "remove"])("GIVEN %s --help THEN its usage is printed with exit 0", async (command) => {
    for (const argv of [[command, "--help"], [command, "-h"], ["help", command], [command, "--endpoints", "x", "--help"]]) {
      expect(await run(...argv)).toEqual({ code: 0, text: COMMAND_HELP[command] });
    }
    expect(COMMAND_HELP[command]).toMatch(new RegExp(`^usage: etcd-cluster ${command} `));
  });

  test.each(Object.keys(LAB_HELP))("GIVEN lab %s --help THEN its usage is printed with exit 0, before any lab is looked for", async (sub) => {
    for (const argv of [["lab", sub, "--help"], ["lab", "help", sub], ["help", "lab", sub]]) {
      expect(await run(...argv)).toEqual({ code: 0, text: LAB_HELP[sub] });
    }
    expect(LAB_HELP[sub]).toMatch(new RegExp(`^usage: etcd-cluster lab ${sub}\\b`));
  });

  test("GIVEN every lab command in the lab's usage THEN each has its own --help", () => {
    const { LAB_USAGE } = require("../../lib/cli/lab-command") as typeof import("../../lib/cli/lab-command");
    const listed = [...LAB_USAGE.matchAll(/^ {2}lab ([a-z|]+)/gm)].flatMap((m) => m[1].split("|"));
    expect(listed.sort()).toEqual(Object.keys(LAB_HELP).filter((sub) => sub !== "heal").sort());
  });

  test.each([["--help"], ["-h"], ["help"], []])("GIVEN %j THEN the overview is printed with exit 0", async (...argv) => {
    const { code, text } = await run(...argv.flat());
    expect(code).toBe(0);
    expect(text).toMatch(/^usage: etcd-cluster <command>/);
  });

  test.each([["lab", "--help"], ["lab", "help"]])("GIVEN %s %s THEN the lab's usage is printed with exit 0", async (...argv) => {
    const { code, text } = await run(...argv);
    expect(code).toBe(0);
    expect(text).toContain("lab up STACK_DIR");
  });

  test.each([["--version"], ["-V"], ["version"]])("GIVEN %s THEN it prints this package's name and version", async (flag) => {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8"));
    expect(await run(flag)).toEqual({ code: 0, text: `etcd-cluster ${pkg.version} (${pkg.name})` });
  });

  test("GIVEN an unknown command with --help THEN the overview is printed with exit 2", async () => {
    const { code, text } = await run("frobnicate", "--help");
    expect(code).toBe(2);
    expect(text).toMatch(/^usage: etcd-cluster <command>/);
  });
});
