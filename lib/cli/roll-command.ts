// `etcd-cluster roll --stack DIR`: the members' VMs replaced one at a time, through Terraform in the
// synthesized stack's directory (as `cdktf deploy` runs it there), health-gated (see lib/roll).
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseFlags } from "../membership/etcd-membership";
import { roll, RollError, type RollTerraform } from "../roll/roll";
import type { ShownState } from "../roll/terraform-state";
import { clientFor, unreachableMessage } from "./client";
import { resolveConnection, UsageError, type Connection, type ConnectionFlags } from "./connection";

export const ROLL_USAGE = `  roll    --stack DIR         replace every member's VM that differs from the stack, one at a time`;

export async function rollCommand(args: string[], out: (line: string) => void): Promise<number> {
  const flags = parseFlags(args);
  let connection: Connection | undefined;
  try {
    const stackDir = flags.stack;
    if (!stackDir) throw new UsageError("roll needs --stack cdktf.out/stacks/NAME: the stack it applies, after `cdktf synth`");
    const configFile = path.join(stackDir, "cdk.tf.json");
    if (!fs.existsSync(configFile)) throw new UsageError(`${configFile} does not exist: run \`cdktf synth\` first`);
    if (!fs.existsSync(path.join(stackDir, ".terraform"))) {
      throw new UsageError(`${stackDir} has no .terraform: deploy the stack once (\`cdktf deploy\`) before rolling it`);
    }
    connection = resolveConnection(flags as ConnectionFlags);
    const memberTimeout = Number(flags["member-timeout"] ?? 900);
    if (!Number.isInteger(memberTimeout) || memberTimeout < 30)
      throw new UsageError(`--member-timeout is ${flags["member-timeout"]}: give whole seconds, 30 or more`);
    await roll({
      config: JSON.parse(fs.readFileSync(configFile, "utf8")),
      terraform: terraformIn(stackDir, process.env.ETCD_CLUSTER_TERRAFORM ?? "terraform", out),
      client: clientFor(connection, out),
      log: out,
      memberTimeoutMs: memberTimeout * 1000,
    });
    return 0;
  } catch (err) {
    out(`etcd-cluster roll: ${(connection && unreachableMessage(err, connection)) ?? (err as Error).message}`);
    return err instanceof UsageError ? 2 : 1;
  }
}

/** Terraform as `cdktf deploy` runs it in the stack's directory; its output indented under the roll's lines. */
function terraformIn(stackDir: string, terraform: string, out: (line: string) => void): RollTerraform {
  const run = (args: string[], capture: boolean): Promise<string> =>
    new Promise((resolve, reject) => {
      const child = spawn(terraform, args, {
        cwd: stackDir,
        env: { ...process.env, TF_IN_AUTOMATION: "1" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let pending = "";
      const onData = (data: string) => {
        const lines = (pending + data).split("\n");
        pending = lines.pop()!;
        lines.forEach((line) => out(`  | ${line}`));
      };
      child.stdout.setEncoding("utf8").on("data", (d: string) => (capture ? (stdout += d) : onData(d)));
      child.stderr.setEncoding("utf8").on("data", onData);
      child.on("error", (e) =>
        reject(new RollError(`cannot run ${terraform}: ${e.message}; install Terraform, or set ETCD_CLUSTER_TERRAFORM to it`))
      );
      child.on("close", (code) => {
        if (pending) out(`  | ${pending}`);
        if (code === 0) resolve(stdout);
        else reject(new RollError(`terraform ${args[0]} exited ${code}: the roll stopped; what Terraform said is above`));
      });
    });
  return {
    apply: async (args) => void (await run(["apply", "-auto-approve", "-input=false", "-no-color", ...args], false)),
    show: async () => JSON.parse(await run(["show", "-json", "-no-color"], true)) as ShownState,
  };
}
