import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { EtcdClusterProps } from "../../lib";
import { NODE4, SEED, synthCluster, userDataOf } from "../support/synth";
import { requireTool } from "../support/tools";
import { temporaryDirectory as tempDir } from "../support/temp";

// What the construct puts into aws_instance.user_data, every variant of it, through cloud-init's
// own schema check (cloud-init 22.4, Debian's).
describe("every synthesized user data passes cloud-init schema", () => {
  const dir = tempDir("schema-");

  test.each<[string, Partial<EtcdClusterProps>]>([
    ["the seed cluster plus a joining node4, key from SSM", { members: [...SEED, NODE4] }],
    ["the same with keys in user data", { members: [...SEED, NODE4], keyDelivery: "user-data" }],
    [
      "the distribution's package, arm64, tuned",
      { install: { source: "package" }, instanceType: "t4g.small", tuning: { heartbeatIntervalMs: 200, electionTimeoutMs: 2000 } },
    ],
    ["etcd v3.5.33", { install: { version: "v3.5.33" } }],
    ["backups on (the command gzipped, gz+b64)", { backup: {} }],
  ])("GIVEN %s", (_, props) => {
    const cloudInit = requireTool("cloud-init", "cloud-init");
    const { json } = synthCluster(props);
    const members = (props.members ?? SEED).map((m) => m.name);
    for (const member of members) {
      const file = path.join(dir, `${member}-${Math.random().toString(36).slice(2)}.yaml`);
      fs.writeFileSync(file, userDataOf(json, member));
      const result = spawnSync(cloudInit, ["schema", "--config-file", file], { encoding: "utf8" });
      expect([member, result.status, `${result.stdout}${result.stderr}`.trim()]).toEqual([
        member,
        0,
        expect.stringMatching(/^Valid cloud-config/),
      ]);
    }
  });
});
