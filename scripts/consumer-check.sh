#!/usr/bin/env bash
# A new user's first test, for both builds: `npm pack` this repository (cdktf build) and build/cdktn
# (cdktn build), install each tarball with its peers into a new project, copy the README's testing
# example (examples/testing, which test/readme.test.ts holds equal to the README), run it, then
# delete the PKI directory, move the project elsewhere and run it again: the snapshot written by
# the first run must pass unchanged. Everything happens in one temporary directory, removed at exit.
#
#   scripts/consumer-check.sh [NODE22]     NODE22: a node >= 22.19 for the cdktn project
#                                          (default: .ci/node22, where .ci/run installs it)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NODE22=${1:-$ROOT/.ci/node22/node_modules/node/bin/node}
[[ -x $NODE22 ]] || { echo "consumer-check: no Node 22 at $NODE22 (npm install --prefix .ci/node22 node@22)" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/etcd-cluster-consumer-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
# Whatever the tools put in a temporary directory goes into WORK, and goes with it.
export TMPDIR=$WORK/tmp CHECKPOINT_DISABLE=1 npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false
mkdir -p "$TMPDIR"

step() { printf '[consumer-check %s] %s\n' "$(date +%T)" "$*"; }

step "npm pack: the cdktf build, then the cdktn build"
(cd "$ROOT" && npm pack --silent --pack-destination "$WORK" >/dev/null)
(cd "$ROOT" && node scripts/build-cdktn.js && npm pack --silent --pack-destination "$WORK" ./build/cdktn >/dev/null)
VERSION=$(node -p "require('$ROOT/package.json').version")

# project FRAMEWORK NODE PACKAGE PEERS...
project() {
  local framework=$1 node=$2 package=$3
  shift 3
  local dir=$WORK/$framework-project
  step "$framework: a new project with $package-$VERSION.tgz and $*"
  mkdir -p "$dir"
  cd "$dir"
  cat >package.json <<JSON
{ "name": "my-$framework-app", "version": "1.0.0", "private": true, "scripts": { "test": "jest" } }
JSON
  cat >jest.config.js <<'JS'
module.exports = {
  testEnvironment: "node",
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: { esModuleInterop: true, skipLibCheck: true, target: "ES2022", module: "commonjs" } }] },
  cacheDirectory: "<rootDir>/.jest-cache",
};
JS
  npm install --silent --prefer-offline --no-save "$WORK/$package-$VERSION.tgz" "$@" \
    jest@^29.7.0 ts-jest@^29.4.0 typescript@~5.9.0 @types/jest@^29.5.14 @types/node@^20.19.0 2>&1 | grep -v EBADENGINE || true
  test -d "node_modules/$package" || { echo "consumer-check: $package did not install" >&2; exit 1; }
  # Peer dependencies: the project's one framework, and not the other one beside it.
  local other=cdktn
  [[ $framework == cdktn ]] && other=cdktf
  [[ ! -e node_modules/$other && ! -e node_modules/$package/node_modules/$framework ]] ||
    { echo "consumer-check: $package brought its own $framework or $other" >&2; exit 1; }
  # The README's example, as a cdktn user would write it for cdktn.
  for file in stack.ts stack.test.ts; do
    if [[ $framework == cdktn ]]; then
      node -e 'const { rewriteImports } = require(process.argv[1]); process.stdout.write(rewriteImports(require("fs").readFileSync(process.argv[2], "utf8")))' \
        "$ROOT/scripts/build-cdktn.js" "$ROOT/examples/testing/$file" >"$file"
    else
      cp "$ROOT/examples/testing/$file" "$file"
    fi
  done

  step "$framework: first run (writes the snapshot)"
  "$node" node_modules/.bin/jest --ci=false
  local snapshot
  snapshot=$(sha256sum __snapshots__/stack.test.ts.snap | cut -d' ' -f1)
  [[ ! -e .etcd-pki ]] || { echo "consumer-check: the test PKI wrote a PKI directory: $(find .etcd-pki)" >&2; exit 1; }
  grep -q "INSECURE test PKI" __snapshots__/stack.test.ts.snap

  step "$framework: second run, PKI directory deleted and the project moved"
  rm -rf .etcd-pki .jest-cache
  mkdir -p "$WORK/elsewhere/deeper"
  cd "$WORK"
  mv "$dir" "$WORK/elsewhere/deeper/moved-$framework"
  cd "$WORK/elsewhere/deeper/moved-$framework"
  "$node" node_modules/.bin/jest --ci
  [[ $(sha256sum __snapshots__/stack.test.ts.snap | cut -d' ' -f1) == "$snapshot" ]] || { echo "consumer-check: $framework snapshot changed" >&2; exit 1; }
  step "$framework: the same snapshot twice ($snapshot)"
}

project cdktf node cdktf-etcd-cluster "cdktf@^0.21.0" "@cdktf/provider-aws@^21.9.1" "constructs@^10.4.2"
project cdktn "$NODE22" cdktn-etcd-cluster "cdktn@^0.24.0" "@cdktn/provider-aws@^25.7.0" "constructs@>=10.6.0 <10.8.0"
left=$(find "$TMPDIR" -mindepth 1 | head -5)
[[ -z $left ]] || { echo "consumer-check: the projects' tests left temporary files: $left" >&2; exit 1; }
step "both builds: installed from their tarballs, the README's test passed twice with an unchanged snapshot"
