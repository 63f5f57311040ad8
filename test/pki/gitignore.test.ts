// A consumer's project: the PKI directory the construct writes is never offered to git, even where
// the project's own .gitignore does not mention it.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { SEED, synthCluster } from "../support/synth";
import { temporaryDirectory } from "../support/temp";
import { requireTool } from "../support/tools";

test("GIVEN a new git repository with the PKI inside WHEN the cluster is synthesized THEN git status shows no file of the PKI directory", () => {
  // GIVEN a project directory under git, with no .gitignore of its own
  const git = requireTool("git", "git");
  const project = temporaryDirectory("etcd-consumer-");
  execFileSync(git, ["init", "-q", project]);
  const pkiDirectory = path.join(project, ".etcd-pki", "app", "etcd");
  fs.writeFileSync(path.join(project, "main.ts"), "// the user's stack\n");

  // WHEN the cluster is synthesized, making its PKI there
  synthCluster({ members: SEED }, { pkiDirectory });
  expect(fs.readdirSync(pkiDirectory)).toContain("ca-key.pem");

  // THEN git offers the user's own file and nothing of the PKI, even with --untracked-files=all
  const status = execFileSync(git, ["-C", project, "status", "--porcelain", "--untracked-files=all"], { encoding: "utf8" });
  expect(status.split("\n").filter(Boolean)).toEqual(["?? main.ts"]);
});
