import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { requireTool } from "./tools";

/**
 * Has the real terraform evaluate a configuration of locals and outputs only (no provider, so it
 * runs offline) written to `dir`/main.tf.json, and returns each named output as `-raw` prints it.
 */
export function terraformOutputs(dir: string, config: object, names: string[]): Record<string, string> {
  const terraform = requireTool("terraform", "terraform");
  fs.writeFileSync(path.join(dir, "main.tf.json"), JSON.stringify(config));
  const run = (...args: string[]) =>
    execFileSync(terraform, args, { cwd: dir, encoding: "utf8", env: { ...process.env, TF_IN_AUTOMATION: "1", CHECKPOINT_DISABLE: "1" } });
  run("init", "-input=false", "-no-color");
  run("apply", "-auto-approve", "-input=false", "-no-color");
  return Object.fromEntries(names.map((name) => [name, run("output", "-raw", name)]));
}
