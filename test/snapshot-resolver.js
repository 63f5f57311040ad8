// Where snapshots live. Whole-stack snapshots differ between cdktf and cdktn in framework details
// only (the AWS provider's version constraint, the asset hashes), so the cdktn run keeps those in
// __snapshots__/cdktn/; every other snapshot (user data, scripts, ...) is shared, so both runs check
// the same text, and scripts/compare-frameworks.js checks that the stacks agree otherwise. Both runs
// map every snapshot file back to its test, so that neither takes the other's files for obsolete.
const path = require("node:path");

const STACK_SNAPSHOTS = ["test/cluster/synth.test.ts", "test/cluster/test-pki.test.ts", "examples/testing/stack.test.ts"];
const root = path.resolve(__dirname, "..");
const isStackTest = (testPath) => STACK_SNAPSHOTS.includes(path.relative(root, testPath).split(path.sep).join("/"));

/** The resolver of one framework's run: "cdktf" (the default snapshots) or "cdktn". */
function resolverFor(framework) {
  return {
    resolveSnapshotPath: (testPath, extension) => {
      const apart = framework === "cdktn" && isStackTest(testPath) ? ["cdktn"] : [];
      return path.join(path.dirname(testPath), "__snapshots__", ...apart, path.basename(testPath) + extension);
    },
    resolveTestPath: (snapshotPath, extension) => {
      const dir = path.dirname(snapshotPath);
      const testDir = path.basename(dir) === "cdktn" ? path.dirname(path.dirname(dir)) : path.dirname(dir);
      return path.join(testDir, path.basename(snapshotPath, extension));
    },
    testPathForConsistencyCheck: path.join(root, "test", "cluster", "synth.test.ts"),
  };
}

module.exports = { ...resolverFor("cdktf"), resolverFor };
