// Every test must remove what it puts in the temporary directory: keys, PKI copies and etcd data
// directories left in /tmp outlive the run. The suite runs with TMPDIR set to a directory of its
// own, which must be empty once all suites are done. Not a diff of /tmp itself: other processes
// on the machine (another checkout's tests, say) make entries there with the same names.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const STATE = "__etcdClusterTempGuard";

interface GuardState {
  readonly root: string;
  readonly previousTmpdir: string | undefined;
}

/** globalSetup: starts the run's own TMPDIR, and returns it. Jest starts its workers after this, so they inherit it. */
export function startTempGuard(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "etcd-cluster-tests-"));
  const state: GuardState = { root, previousTmpdir: process.env.TMPDIR };
  (globalThis as Record<string, unknown>)[STATE] = state;
  process.env.TMPDIR = root;
  return root;
}

/** globalTeardown: removes the run's TMPDIR whatever it holds, and fails the run if it held anything. */
export function finishTempGuard(): void {
  const state = (globalThis as Record<string, unknown>)[STATE] as GuardState | undefined;
  if (!state) return;
  if (state.previousTmpdir === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = state.previousTmpdir;
  const left = fs.readdirSync(state.root);
  fs.rmSync(state.root, { recursive: true, force: true });
  const problems = left.map((name) => path.join(state.root, name));
  if (problems.length > 0) {
    throw new Error(
      `the tests left ${problems.length} temporary file(s) or directory(ies); each test must remove what it makes:\n` +
        problems.map((p) => `  ${p}`).join("\n")
    );
  }
}
