#!/usr/bin/env node
// Checks that two synthesized stacks, one by cdktf and one by cdktn, declare the same Terraform
// configuration: the same resource, data source, output and local addresses with the same
// attributes, and the same required_version. What may differ, and is set aside: the provider's
// version constraint and source spelling, the "//" metadata, and the asset directories' hashes
// (each framework hashes the same file its own way).
//
//   node scripts/compare-frameworks.js A/cdk.tf.json B/cdk.tf.json [DIR_IN_B=DIR_IN_A ...]
//
// DIR_IN_B=DIR_IN_A: B's project lives elsewhere; its absolute paths (the outputs' PKI paths) are
// read as if it lived at DIR_IN_A.
"use strict";
const fs = require("node:fs");
const { isDeepStrictEqual } = require("node:util");

const ASSET_PATH = /(assets\/[^/"\s]+\/)[0-9A-F]{32}\//g;

function comparable(file, moves = []) {
  let text = fs.readFileSync(file, "utf8").replace(ASSET_PATH, "$1<hash>/");
  for (const [from, to] of moves) text = text.split(from).join(to);
  const json = JSON.parse(text);
  const blocks = {};
  for (const block of ["resource", "data", "output", "locals", "module"]) {
    for (const [key, value] of Object.entries(json[block] ?? {})) {
      if (block === "resource" || block === "data") {
        for (const [name, body] of Object.entries(value)) blocks[`${block === "data" ? "data." : ""}${key}.${name}`] = body;
      } else {
        blocks[`${block}.${key}`] = value;
      }
    }
  }
  blocks["terraform.required_version"] = json.terraform?.required_version;
  return blocks;
}

function compare(a, b, moves = []) {
  const [left, right] = [comparable(a), comparable(b, moves)];
  const problems = [];
  for (const address of new Set([...Object.keys(left), ...Object.keys(right)])) {
    if (!(address in right)) problems.push(`${address}: only in ${a}`);
    else if (!(address in left)) problems.push(`${address}: only in ${b}`);
    else if (!isDeepStrictEqual(left[address], right[address])) {
      const attributes = new Set([...Object.keys(left[address] ?? {}), ...Object.keys(right[address] ?? {})]);
      const differing = [...attributes].filter((k) => !isDeepStrictEqual(left[address]?.[k], right[address]?.[k]));
      problems.push(`${address}: ${differing.join(", ") || "value"} differ`);
    }
  }
  return { addresses: Object.keys(left).length, problems };
}

if (require.main === module) {
  const [a, b, ...pairs] = process.argv.slice(2);
  const moves = pairs.map((pair) => pair.split("="));
  if (!a || !b) {
    console.error("usage: node scripts/compare-frameworks.js CDKTF_STACK.json CDKTN_STACK.json");
    process.exit(2);
  }
  const { addresses, problems } = compare(a, b, moves);
  if (problems.length > 0) {
    console.error(`cdktf and cdktn synthesize different stacks (${problems.length} difference(s)):\n${problems.map((p) => `  ${p}`).join("\n")}`);
    process.exit(1);
  }
  console.log(`cdktf and cdktn agree on all ${addresses} addresses and their attributes (${a}, ${b})`);
}
module.exports = { compare };
