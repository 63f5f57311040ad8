import { execFile } from "node:child_process";

export interface CommandOutcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** The program is not there (ENOENT). */
  readonly missing: boolean;
}

/** Runs a program (the AWS CLI, etcdutl) to its end, with `env` over this process's environment; never throws. */
export function runCommand(command: string, args: string[], env: Record<string, string> = {}): Promise<CommandOutcome> {
  return new Promise((resolve) => {
    execFile(command, args, { encoding: "utf8", env: { ...process.env, ...env }, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      const code = error ? (error as NodeJS.ErrnoException).code : 0;
      resolve({ code: typeof code === "number" ? code : 1, stdout, stderr, missing: code === "ENOENT" });
    });
  });
}
