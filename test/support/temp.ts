// Temporary directories for tests, each removed when the test process ends: after every suite's
// own afterAll, since a lab or a Terraform run may still use one until then.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const made: string[] = [];
process.on("exit", () => made.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

/** A new empty directory under the system's temp directory, named `<prefix>XXXXXX`. */
export function temporaryDirectory(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}
