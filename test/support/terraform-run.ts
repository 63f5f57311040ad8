import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface TerraformResult {
  readonly code: number;
  readonly output: string;
}

/** The terraform on PATH; its absence fails the suite (never skips it). */
export function requireTerraform(): string {
  const found = spawnSync("terraform", ["version"], { encoding: "utf8", env: { ...process.env, CHECKPOINT_DISABLE: "1" } });
  if (found.status !== 0) {
    throw new Error(`these tests run the real Terraform 1.11: "terraform version" failed (${found.error?.message ?? found.stderr})`);
  }
  return found.stdout.split("\n")[0];
}

/**
 * A Terraform working directory attached to an in-process provider. Runs are asynchronous on purpose: the
 * provider is served by this very process, so a synchronous child would deadlock it.
 */
export class TerraformDir {
  private readonly env: NodeJS.ProcessEnv;

  constructor(readonly dir: string, reattach: string) {
    const tmp = join(dir, ".tmp");
    mkdirSync(tmp, { recursive: true });
    writeFileSync(join(dir, "empty.tfrc"), "");
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("TF_")));
    this.env = {
      ...inherited,
      TF_REATTACH_PROVIDERS: reattach,
      TF_IN_AUTOMATION: "1",
      CHECKPOINT_DISABLE: "1",
      TF_CLI_CONFIG_FILE: join(dir, "empty.tfrc"),
      // Whatever Terraform or a provisioner puts in a temp dir stays in the test's own directory.
      TMPDIR: tmp,
    };
  }

  reattachTo(reattach: string): void {
    this.env.TF_REATTACH_PROVIDERS = reattach;
  }

  run(...args: string[]): Promise<TerraformResult> {
    return this.start(...args).result;
  }

  /** Starts a run; `interrupt` sends SIGINT, as Ctrl-C would. */
  start(...args: string[]): { readonly result: Promise<TerraformResult>; interrupt(): void } {
    const child = spawn("terraform", [...args, "-no-color"], { cwd: this.dir, env: this.env, stdio: ["ignore", "pipe", "pipe"] });
    const result = new Promise<TerraformResult>((resolve, reject) => {
      let output = "";
      child.stdout.on("data", (d: Buffer) => (output += d.toString()));
      child.stderr.on("data", (d: Buffer) => (output += d.toString()));
      child.on("error", reject);
      child.on("close", (code) => resolve({ code: code ?? -1, output }));
    });
    return { result, interrupt: () => child.kill("SIGINT") };
  }

  /** Runs and expects exit code `code` (0 by default), or fails with Terraform's output. */
  async expect(code: number, ...args: string[]): Promise<string> {
    const result = await this.run(...args);
    if (result.code !== code) throw new Error(`terraform ${args.join(" ")} exited ${result.code}, expected ${code}:\n${result.output}`);
    return result.output;
  }
}
