import { spawn, spawnSync } from "node:child_process";

/** What a finished command printed and how it exited (`code` is null when it was killed). */
export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number | null;
}

export interface RunOptions {
  /** The complete environment; nothing else of this process's environment is passed. @default { PATH } */
  readonly env?: Record<string, string>;
  /** Killed (SIGKILL) after this long. @default 60000 */
  readonly timeoutMs?: number;
  /** Written to the command's stdin, which is then closed. @default empty */
  readonly input?: string;
}

/** The host's PATH: the only variable the lab passes on from its own environment. */
export function hostPath(): string {
  return process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin";
}

/** Runs a host command to completion; throws with its stderr when it fails. */
export function runSync(argv: string[]): string {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8", env: { PATH: hostPath() } });
  if (r.error) throw new Error(`${argv.join(" ")}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new Error(`${argv.join(" ")} exited with ${r.status ?? r.signal}: ${r.stderr.trim()}`);
  }
  return r.stdout;
}

/** Runs a command without blocking the event loop (health polls run while members start). */
export function run(argv: string[], options: RunOptions = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {
      env: options.env ?? { PATH: hostPath() },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`${argv[0]}: ${e.message}`));
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code });
    });
    child.stdin.on("error", () => undefined); // a command that exits without reading its input
    child.stdin.end(options.input ?? "");
  });
}

export interface StreamOptions extends RunOptions {
  /** Working directory. @default this process's */
  readonly cwd?: string;
  /** Called with each line of stdout and stderr as it arrives (a step's progress). */
  readonly onLine: (line: string) => void;
}

/**
 * Runs a command, handing each output line to `onLine` as it comes; `stdout` of the result holds
 * stdout and stderr interleaved as they arrived, for an error message.
 */
export function runStreaming(argv: string[], options: StreamOptions): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {
      cwd: options.cwd,
      env: options.env ?? { PATH: hostPath() },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let output = "";
    const pending = { stdout: "", stderr: "" };
    const take = (stream: "stdout" | "stderr", data: string, flush = false) => {
      const lines = (pending[stream] + data).split("\n");
      pending[stream] = flush ? "" : lines.pop()!;
      for (const line of lines) {
        if (flush && line === "") continue;
        output += line + "\n";
        options.onLine(line);
      }
    };
    child.stdout.setEncoding("utf8").on("data", (d: string) => take("stdout", d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => take("stderr", d));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`${argv[0]}: ${e.message}`));
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      take("stdout", "", true);
      take("stderr", "", true);
      resolve({ stdout: output, stderr: "", code });
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(options.input ?? "");
  });
}

/** Absolute path of a command on the host PATH, or undefined. */
export function which(command: string): string | undefined {
  const r = spawnSync("sh", ["-c", 'command -v -- "$1"', "sh", command], {
    encoding: "utf8",
    env: { PATH: hostPath() },
  });
  const path = r.status === 0 ? r.stdout.trim() : "";
  return path.startsWith("/") ? path : undefined;
}

/** Promise-based pause for polling loops. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
