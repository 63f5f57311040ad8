#!/usr/bin/env node
// `npm run synth` (cdktf) and `node scripts/synth.js cdktn` (in build/cdktn, under Node >= 22.19):
// the framework's own `synth`, quiet where it runs offline or into a log. The CLIs phone
// HashiCorp's checkpoint service unless CHECKPOINT_DISABLE is set (offline: a red ENOTFOUND
// error), and draw a spinner whenever CI is unset, also into a file or pipe.
"use strict";
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const ROOT = path.resolve(__dirname, "..");
const [framework = "cdktf", ...args] = process.argv.slice(2);
const cli = { cdktf: "cdktf-cli/bundle/bin/cdktf", cdktn: "cdktn-cli/bin/cdktn" }[framework];
if (!cli) {
  console.error(`usage: node scripts/synth.js [cdktf|cdktn] [synth options]; not ${JSON.stringify(framework)}`);
  process.exit(2);
}
const cwd = framework === "cdktn" ? path.join(ROOT, "build", "cdktn") : ROOT;
const env = { ...process.env, CHECKPOINT_DISABLE: "1" };
if (!process.stdout.isTTY) env.CI = env.CI || "true";
// Synth runs `terraform version`, which warns (and cdktf prints it as an [ERROR]) about a
// TF_CLI_CONFIG_FILE that names no file; with no file there is nothing it would have read anyway.
if (env.TF_CLI_CONFIG_FILE && !fs.existsSync(env.TF_CLI_CONFIG_FILE)) delete env.TF_CLI_CONFIG_FILE;
// The app (ts-node) runs on this same node, first on PATH: cdktn's needs Node >= 22.
env.PATH = `${path.dirname(process.execPath)}${path.delimiter}${env.PATH ?? ""}`;
const result = spawnSync(process.execPath, [require.resolve(cli, { paths: [ROOT] }), "synth", ...args], { cwd, env, stdio: "inherit" });
process.exit(result.status ?? 1);
