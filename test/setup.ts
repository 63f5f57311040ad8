import * as fs from "node:fs";
import "cdktf/lib/testing/adapters/jest"; // types of the matchers below
import { Testing } from "../lib/cdktf";

// cdktf's matchers (toHaveResourceWithProperties, ...) take snake_case keys, as in the synthesized JSON.
Testing.setupJest();

// Testing.app() makes a temporary outdir (cdktf.outdir.*) it never removes: remove each after its
// test file, so that a run leaves nothing behind (global-teardown.ts checks).
const outdirs: string[] = [];
const app = Testing.app.bind(Testing);
Testing.app = (options) => {
  const made = app(options);
  if (!options?.outdir) outdirs.push(made.outdir);
  return made;
};
afterAll(() => outdirs.splice(0).forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));
