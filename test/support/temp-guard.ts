// Every test must remove what it puts in the temporary directory: keys, PKI copies and etcd data
// directories left in /tmp outlive the run. The suite runs with TMPDIR set to a directory of its
// own, which must be empty at the end; and /tmp itself must have gained no entry a test could
// have made without TMPDIR (cdktf's outdirs, say). Both are checked once all suites are done.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const SYSTEM_TMP = "/tmp";
const STATE = "__etcdClusterTempGuard";

interface GuardState {
  readonly root: string;
  readonly before: ReadonlySet<string>;
  readonly previousTmpdir: string | undefined;
}

/** globalSetup: starts the run's own TMPDIR. Jest starts its workers after this, so they inherit it. */
export function startTempGuard(): void {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "etcd-cluster-tests-"));
  const state: GuardState = { root, before: new Set(fs.readdirSync(SYSTEM_TMP)), previousTmpdir: process.env.TMPDIR };
  (globalThis as Record<string, unknown>)[STATE] = state;
  process.env.TMPDIR = root;
}

/** globalTeardown: removes the run's TMPDIR whatever it holds, and fails the run if it held anything. */
export function finishTempGuard(): void {
  const state = (globalThis as Record<string, unknown>)[STATE] as GuardState | undefined;
  if (!state) return;
  if (state.previousTmpdir === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = state.previousTmpdir;
  const left = fs.readdirSync(state.root);
  fs.rmSync(state.root, { recursive: true, force: true });
  // Only names this project's code and tools make: other processes on the machine share /tmp.
  const ours = /^(cdktf\.outdir\.|etcd-|tf-|pki-|checkout-|test-pki-|jest_)/;
  const appeared = fs.readdirSync(SYSTEM_TMP).filter((name) => !state.before.has(name) && ours.test(name));
  const problems = [
    ...left.map((name) => `${path.join(state.root, name)} (under the run's TMPDIR)`),
    ...appeared.map((name) => path.join(SYSTEM_TMP, name)),
  ];
  if (problems.length > 0) {
    throw new Error(
      `the tests left ${problems.length} temporary file(s) or directory(ies); each test must remove what it makes:\n` +
        problems.map((p) => `  ${p}`).join("\n")
    );
  }
}
