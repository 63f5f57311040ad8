// The same unit tests against CDK Terrain: every import of cdktf and @cdktf/provider-aws (in lib/
// and in the tests) resolves to cdktn and @cdktn/provider-aws, as the cdktn build rewrites them.
// Snapshots are kept apart (__snapshots__/cdktn/): the providers' version constraints differ.
const base = require("./jest.config");
const path = require("node:path");

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  moduleNameMapper: {
    ...base.moduleNameMapper,
    "^cdktf$": "cdktn",
    "^cdktf/(.*)$": "cdktn/$1",
    "^@cdktf/provider-aws/(.*)$": "@cdktn/provider-aws/$1",
  },
  // The unit suites only: the lab and real-etcd suites exercise machines, not the framework.
  globalSetup: "<rootDir>/test/global-setup-unit.ts",
  snapshotResolver: "<rootDir>/test/cdktn-snapshot-resolver.js",
  testPathIgnorePatterns: ["/node_modules/", "<rootDir>/test/real/", "<rootDir>/test/lab/", "real-etcd\\.test\\.ts$", "etcd-membership\\.test\\.ts$"],
};
