// The same unit tests against CDK Terrain: every import of cdktf and @cdktf/provider-aws (in lib/
// and in the tests) resolves to cdktn and @cdktn/provider-aws, as the cdktn build rewrites them.
// Whole-stack snapshots are kept apart (see test/cdktn-snapshot-resolver.js); the others are shared.
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
  // The suites that synthesize (and so run on the framework). The renderers' suites (test/node,
  // test/etcd, test/pki) never synthesize, and the lab's and real-etcd suites exercise machines.
  globalSetup: "<rootDir>/test/global-setup-unit.ts",
  testMatch: [
    "<rootDir>/test/cluster/**/*.test.ts",
    "<rootDir>/test/aws/**/*.test.ts",
    "<rootDir>/test/cli/**/*.test.ts",
    "<rootDir>/test/membership/plan.test.ts",
    "<rootDir>/test/examples.test.ts",
    "<rootDir>/examples/**/*.test.ts",
  ],
  snapshotResolver: "<rootDir>/test/cdktn-snapshot-resolver.js",
};
