import * as fs from "node:fs";
import * as path from "node:path";
import { finishTempGuard, startTempGuard } from "./support/temp-guard";

// The check itself, in a guard of its own (this worker's TMPDIR is set back afterwards).
describe("the temporary-directory check", () => {
  const outer = process.env.TMPDIR;
  afterEach(() => {
    process.env.TMPDIR = outer;
  });

  test("GIVEN a test that leaves a directory WHEN the run ends THEN the check fails naming it, and removes it", () => {
    // Named by the guard, not os.tmpdir(): a test's process.env is jest's copy, which os does not read.
    const left = fs.mkdtempSync(path.join(startTempGuard(), "forgotten-"));
    expect(() => finishTempGuard()).toThrow(`the tests left 1 temporary file(s) or directory(ies)`);
    expect(fs.existsSync(left)).toBe(false);
    expect(process.env.TMPDIR).toBe(outer);
  });

  test("GIVEN tests that clean up WHEN the run ends THEN the check passes", () => {
    fs.rmSync(fs.mkdtempSync(path.join(startTempGuard(), "tidy-")), { recursive: true });
    expect(() => finishTempGuard()).not.toThrow();
  });
});
