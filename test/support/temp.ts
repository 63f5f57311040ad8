// Temporary directories for tests. Each is removed once its test file is done (an afterAll at the
// file's root, registered as the file imports this module: jest loads modules per test file), and
// at exit as a last resort. A worker that runs in band exits only after jest's global teardown,
// which checks that nothing was left, so exit alone would be too late.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const made: string[] = [];
const removeMade = () => made.splice(0).forEach((dir) => fs.rmSync(dir, { recursive: true, force: true }));
// Looked up, not named: the bench compiles the support files without jest's types.
const jestAfterAll = (globalThis as { afterAll?: (fn: () => void) => void }).afterAll;
if (jestAfterAll) jestAfterAll(removeMade);
process.on("exit", removeMade);

/**
 * A new empty directory under the system's temp directory, named `<prefix>XXXXXX`.
 * "caller": the caller removes it (a lab may still use it in its own afterAll).
 */
export function temporaryDirectory(prefix: string, removedBy: "this-file" | "caller" = "this-file"): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  if (removedBy === "this-file") made.push(dir);
  return dir;
}
