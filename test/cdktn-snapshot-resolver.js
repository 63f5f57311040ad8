// Snapshots of whole stacks differ between cdktf and cdktn in framework details only (the AWS
// provider's version constraint, the asset hashes): the cdktn run keeps those in
// __snapshots__/cdktn/. Every other snapshot (user data, scripts, ...) is shared, so both runs
// check the same text. scripts/compare-frameworks.js checks that the stacks agree otherwise.
const path = require("node:path");

const STACK_SNAPSHOTS = ["test/cluster/synth.test.ts", "test/cluster/test-pki.test.ts", "examples/testing/stack.test.ts"];
const root = path.resolve(__dirname, "..");
const isStackTest = (testPath) => STACK_SNAPSHOTS.includes(path.relative(root, testPath).split(path.sep).join("/"));

module.exports = {
  resolveSnapshotPath: (testPath, extension) =>
    path.join(path.dirname(testPath), "__snapshots__", ...(isStackTest(testPath) ? ["cdktn"] : []), path.basename(testPath) + extension),
  resolveTestPath: (snapshotPath, extension) => {
    const dir = path.dirname(snapshotPath);
    const testDir = path.basename(dir) === "cdktn" ? path.dirname(path.dirname(dir)) : path.dirname(dir);
    return path.join(testDir, path.basename(snapshotPath, extension));
  },
  testPathForConsistencyCheck: path.join(root, "test", "cluster", "synth.test.ts"),
};
