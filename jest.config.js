/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  // examples/: the README's testing recipe runs as a user's test would, against this source.
  roots: ["<rootDir>/test", "<rootDir>/examples"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.ts$": ["ts-jest", { isolatedModules: true }] },
  moduleNameMapper: { "^cdktf-etcd-cluster$": "<rootDir>/lib" },
  snapshotResolver: "<rootDir>/test/snapshot-resolver.js",
  setupFilesAfterEnv: ["<rootDir>/test/setup.ts"],
  globalSetup: "<rootDir>/test/global-setup.ts",
  // Fails the run when a test left a temporary file or directory behind.
  globalTeardown: "<rootDir>/test/global-teardown.ts",
  // Real-etcd suites start clusters in network namespaces; give them room.
  testTimeout: 120000,
  // Not /tmp: a run leaves nothing there.
  cacheDirectory: "<rootDir>/node_modules/.cache/jest",
};
