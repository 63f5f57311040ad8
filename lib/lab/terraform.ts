// Terraform itself, run by the lab exactly as `cdktf deploy` runs it in a stack directory: the only
// differences are where it runs (the deployer's network namespace, so the provisioners reach the
// members and nothing else) and which aws provider answers (the lab's, attached over a socket).
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { hostPath, runSync, which } from "./command";

/** The oldest Terraform the synthesized stack accepts (write-only arguments). */
export const MIN_TERRAFORM = [1, 11] as const;

/** The terraform binary on PATH, refused with the fix when missing or too old. Never downloads one. */
export function terraformTool(): string {
  const terraform = which("terraform");
  if (!terraform) {
    throw new Error(
      `terraform is not on PATH: the lab runs the real Terraform (${MIN_TERRAFORM.join(
        "."
      )} or later) against the synthesized stack; install it from HashiCorp's releases`
    );
  }
  const version = /Terraform v(\d+)\.(\d+)\.(\d+)/.exec(runSync([terraform, "version"]));
  const [major, minor] = version ? [Number(version[1]), Number(version[2])] : [0, 0];
  if (major < MIN_TERRAFORM[0] || (major === MIN_TERRAFORM[0] && minor < MIN_TERRAFORM[1])) {
    throw new Error(`${terraform} is ${version?.[0] ?? "of an unknown version"}: the stack needs Terraform >= ${MIN_TERRAFORM.join(".")}`);
  }
  return terraform;
}

export interface TerraformRun {
  readonly terraform: string;
  readonly stackDir: string;
  /** The deployer's network namespace. */
  readonly netns: string;
  /** TF_REATTACH_PROVIDERS: the lab's aws provider. */
  readonly reattach: string;
  /** An empty CLI configuration the lab owns: no plugin cache, no credentials helpers of the host's. */
  readonly cliConfigFile: string;
  readonly onLine: (line: string) => void;
  /** Aborting sends SIGINT, as Ctrl-C would: Terraform stops gracefully and saves its state. */
  readonly signal?: AbortSignal;
  /** More environment for Terraform and its provisioners (the lab's AWS endpoint and credentials). */
  readonly env?: Readonly<Record<string, string>>;
}

/** The environment terraform runs in: the lab's provider and CLI configuration, and the lab's AWS. */
export function terraformEnvironment(run: Omit<TerraformRun, "onLine">): Record<string, string> {
  const env: Record<string, string> = {
    PATH: hostPath(),
    HOME: process.env.HOME ?? "/root",
    TF_REATTACH_PROVIDERS: run.reattach,
    TF_CLI_CONFIG_FILE: run.cliConfigFile,
    TF_IN_AUTOMATION: "1",
    TF_INPUT: "0",
    CHECKPOINT_DISABLE: "1",
    ...run.env,
  };
  // The operator's way out of a destroy whose cluster lost quorum reaches the provisioners.
  if (process.env.ETCD_CLUSTER_ABANDON) env.ETCD_CLUSTER_ABANDON = process.env.ETCD_CLUSTER_ABANDON;
  return env;
}

/** Runs one terraform command in the stack directory; resolves with its exit code. */
export function runTerraform(run: TerraformRun, args: string[]): Promise<number> {
  const env = terraformEnvironment(run);
  const argv = ["ip", "netns", "exec", run.netns, run.terraform, ...args];
  return new Promise((resolvePromise, reject) => {
    const child = spawn(argv[0], argv.slice(1), { cwd: run.stackDir, env, stdio: ["ignore", "pipe", "pipe"] });
    const pending = { out: "", err: "" };
    const take = (stream: "out" | "err", data: string, flush = false) => {
      const lines = (pending[stream] + data).split("\n");
      pending[stream] = flush ? "" : lines.pop()!;
      for (const line of lines) if (!(flush && line === "")) run.onLine(line);
    };
    child.stdout.setEncoding("utf8").on("data", (d: string) => take("out", d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => take("err", d));
    const interrupt = () => child.kill("SIGINT");
    run.signal?.addEventListener("abort", interrupt, { once: true });
    child.on("error", (e) => reject(new Error(`terraform: ${e.message}`)));
    child.on("close", (code, signal) => {
      run.signal?.removeEventListener("abort", interrupt);
      take("out", "", true);
      take("err", "", true);
      resolvePromise(code ?? (signal ? 128 : 1));
    });
  });
}

/**
 * The state file Terraform keeps for the stack: its local backend's path (cdktf writes one, relative
 * to the project), else terraform.tfstate in the stack directory.
 */
export function stateFileOf(stackDir: string): string {
  const json = JSON.parse(readFileSync(join(stackDir, "cdk.tf.json"), "utf8")) as {
    terraform?: { backend?: { local?: { path?: string } } };
  };
  const path = json.terraform?.backend?.local?.path;
  if (path === undefined) return join(stackDir, "terraform.tfstate");
  return isAbsolute(path) ? path : resolve(stackDir, path);
}

/** The stack's Terraform state, if it has one. */
export function readState(stackDir: string): object | undefined {
  const file = stateFileOf(stackDir);
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as object) : undefined;
}
