import { spawnSync } from "node:child_process";
import { join } from "node:path";

const REPO = join(__dirname, "..", "..");

/**
 * Runs `body` (an async function body, with `lab` bound to lib/lab) in a separate Node process and
 * returns what it printed: for a lab that outlives the process that started it (a crash), or for
 * running as an unprivileged user. A thrown error is printed as "ERROR: <message>", exit code 3.
 */
export function runInChild(body: string, options: { asUid?: number } = {}): { stdout: string; stderr: string; status: number | null } {
  const code =
    `const lab = require(${JSON.stringify(join(REPO, "lib", "lab"))});\n` +
    `(async () => {\n${body}\n})().catch((e) => { console.log("ERROR: " + e.message); process.exit(3); });`;
  const node = [process.execPath, "-r", "ts-node/register/transpile-only", "-e", code];
  const uid = options.asUid;
  const argv = uid === undefined ? node : ["setpriv", `--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", ...node];
  const r = spawnSync(argv[0], argv.slice(1), {
    cwd: REPO,
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "", TS_NODE_PROJECT: join(REPO, "tsconfig.json") },
    timeout: 90_000,
  });
  if (r.error) throw r.error;
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}
