#!/usr/bin/env node
// The cdktn package from the same source: lib/ (and examples/, for CI's synth) copied to
// build/cdktn/ with every import of cdktf and @cdktf/provider-aws rewritten to cdktn and
// @cdktn/provider-aws, then compiled by tsc against cdktn's own types. Not a fork: nothing under
// build/ is edited or committed.
//
//   node scripts/build-cdktn.js          build/cdktn/{lib,examples,dist,package.json,...}
"use strict";
const { execFileSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const ROOT = path.resolve(__dirname, "..");
const OUT = path.join(ROOT, "build", "cdktn");

/** The one transformation: module specifiers, nothing else (comments and messages keep saying cdktf). */
function rewriteImports(source) {
  return source
    .replace(/(["'])cdktf(\/[^"']*)?\1/g, (_m, q, rest = "") => `${q}cdktn${rest}${q}`)
    .replace(/(["'])@cdktf\/provider-aws(\/[^"']*)?\1/g, (_m, q, rest = "") => `${q}@cdktn/provider-aws${rest}${q}`)
    .replace(/(["'])cdktf-etcd-cluster(\/[^"']*)?\1/g, (_m, q, rest = "") => `${q}cdktn-etcd-cluster${rest}${q}`);
}

function copyTree(from, to, keep) {
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name);
    const target = path.join(to, entry.name);
    if (entry.isDirectory()) {
      if (["node_modules", "cdktf.out", "__snapshots__"].includes(entry.name)) continue;
      copyTree(source, target, keep);
    } else if (keep(entry.name)) {
      fs.mkdirSync(to, { recursive: true });
      const text = fs.readFileSync(source, "utf8");
      fs.writeFileSync(target, /\.(ts|js)$/.test(entry.name) ? rewriteImports(text) : text);
    }
  }
}

/** package.json of the cdktn package: the root one with cdktn's name and peers. */
function cdktnPackageJson() {
  const root = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
  const cdktn = JSON.parse(fs.readFileSync(path.join(__dirname, "cdktn-package.json"), "utf8"));
  const { scripts, devDependencies, peerDependencies, ...rest } = root;
  return {
    ...rest,
    name: cdktn.name,
    description: cdktn.description,
    keywords: root.keywords,
    engines: cdktn.engines,
    peerDependencies: cdktn.peerDependencies,
    files: ["dist/lib"],
  };
}

function main() {
  fs.rmSync(OUT, { recursive: true, force: true });
  const code = (name) => /\.(ts|js|json)$/.test(name) && !name.endsWith(".test.ts");
  copyTree(path.join(ROOT, "lib"), path.join(OUT, "lib"), code);
  copyTree(path.join(ROOT, "examples"), path.join(OUT, "examples"), code);
  const tsconfig = JSON.parse(fs.readFileSync(path.join(ROOT, "tsconfig.json"), "utf8"));
  fs.writeFileSync(
    path.join(OUT, "tsconfig.json"),
    JSON.stringify(
      {
        ...tsconfig,
        compilerOptions: { ...tsconfig.compilerOptions, types: ["node"], paths: { "cdktn-etcd-cluster": ["lib/index.ts"] } },
        include: ["lib/**/*.ts", "lib/**/*.js"],
      },
      null,
      2
    )
  );
  // Resolved from the repository's node_modules (cdktn and @cdktn/provider-aws are devDependencies).
  execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", path.join(OUT, "tsconfig.json")], { stdio: "inherit" });
  fs.writeFileSync(path.join(OUT, "package.json"), `${JSON.stringify(cdktnPackageJson(), null, 2)}\n`);
  for (const file of ["README.md", "LICENSE", "CHANGELOG.md"]) {
    if (fs.existsSync(path.join(ROOT, file))) fs.copyFileSync(path.join(ROOT, file), path.join(OUT, file));
  }
  fs.chmodSync(path.join(OUT, "dist", "lib", "cli", "main.js"), 0o755);
  // For CI's `cdktn synth` of the seed example beside the cdktf one: the same PKI (the example puts
  // it in <repository>/.etcd-pki), so both synthesize the same certificates and relative paths.
  const cdktfJson = JSON.parse(fs.readFileSync(path.join(ROOT, "cdktf.json"), "utf8"));
  cdktfJson.app = "node -r ts-node/register/transpile-only examples/seed-cluster/main.ts";
  fs.writeFileSync(path.join(OUT, "cdktf.json"), JSON.stringify(cdktfJson, null, 2));
  fs.symlinkSync(path.join("..", "..", ".etcd-pki"), path.join(OUT, ".etcd-pki"));
}

if (require.main === module) main();
module.exports = { rewriteImports };
