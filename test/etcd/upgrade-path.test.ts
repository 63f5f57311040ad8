import { versionChangeProblem } from "../../lib/etcd/upgrade-path";

describe("versionChangeProblem: etcd's own rules for a running cluster's version", () => {
  test.each([
    ["a patch release", "v3.5.30", "v3.5.33"],
    ["a patch downgrade", "v3.6.14", "v3.6.12"],
    ["3.4 to 3.5", "v3.4.23", "v3.5.30"],
    ["3.5 to 3.4", "v3.5.30", "v3.4.23"],
    ["3.5.26 to 3.6", "v3.5.26", "v3.6.0"],
    ["3.6.11 to 3.7", "v3.6.11", "v3.7.0"],
    ["3.6 down to 3.5.26", "v3.6.14", "v3.5.26"],
    ["3.7 down to 3.6.11", "v3.7.1", "v3.6.11"],
  ])("allows %s", (_what, from, to) => {
    expect(versionChangeProblem(from, to)).toBeUndefined();
  });

  test.each([
    ["a skipped minor", "v3.4.23", "v3.6.14", "etcd upgrades one minor version at a time: roll 3.4 -> 3.5 -> 3.6, one roll each"],
    ["two skipped down", "v3.7.0", "v3.4.23", "etcd downgrades one minor version at a time: roll 3.7 -> 3.6 -> 3.5 -> 3.4, one roll each"],
    [
      "3.6 from a 3.5 before 3.5.26",
      "v3.5.25",
      "v3.6.14",
      "etcd 3.6 needs every member on v3.5.26 or later first: roll v3.5.25 -> v3.5.26 (or a later 3.5), then -> v3.6.14",
    ],
    [
      "3.7 from a 3.6 before 3.6.11",
      "v3.6.10",
      "v3.7.0",
      "etcd 3.7 needs every member on v3.6.11 or later first: roll v3.6.10 -> v3.6.11 (or a later 3.6), then -> v3.7.0",
    ],
    [
      "3.6 down to a 3.5 before 3.5.26",
      "v3.6.14",
      "v3.5.21",
      "etcd 3.6 downgrades only to v3.5.26 or later: roll to v3.5.26 (or a later 3.5) instead of v3.5.21",
    ],
    ["a new major", "v3.6.14", "v4.0.0", "etcd does not change major version in a roll: stay on v3"],
  ])("refuses %s, with the path to take", (_what, from, to, problem) => {
    expect(versionChangeProblem(from, to)).toBe(problem);
  });
});
