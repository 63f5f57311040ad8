import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { unescapeTemplate } from "../terraform-string";
import { hostPath, runStreaming, shQuote } from "./command";
import { LabFile, LabMember } from "./stack";

/**
 * A member whose user data does not carry its private key: on EC2 its boot script's `fetch_key`
 * reads it from SSM Parameter Store. The lab runs that same function.
 */
export interface KeyFetch {
  /** The boot script that defines fetch_key. */
  readonly bootScript: LabFile;
  /** The SSM parameter it reads (its KEY_PARAMETER). */
  readonly parameter: string;
  /** The key files etcd.conf names that the user data does not write. */
  readonly keyFiles: string[];
}

/** Where an SSM parameter's value comes from: a file Terraform's file() reads, or a literal. */
export type ParameterValue = { readonly file: string } | { readonly literal: string };

const KEY_SETTINGS = ["ETCD_KEY_FILE", "ETCD_PEER_KEY_FILE"];

/** What the member must fetch at boot; undefined when its user data writes every key file. */
export function keyFetchOf(member: LabMember): KeyFetch | undefined {
  const written = new Set(member.files.map((f) => f.path));
  const keyFiles = [...new Set(KEY_SETTINGS.map((k) => member.conf[k]).filter((f): f is string => !!f && !written.has(f)))];
  if (keyFiles.length === 0) return undefined;
  const bootScript = member.files.find((f) => /^fetch_key\(\)/m.test(f.content));
  if (!bootScript) {
    throw new Error(
      `${member.name}: etcd.conf names ${keyFiles.join(", ")}, which neither the user data writes nor a boot script fetches (no fetch_key)`
    );
  }
  const parameter = /^KEY_PARAMETER='([^']*)'$/m.exec(bootScript.content)?.[1];
  if (!parameter) throw new Error(`${member.name}: ${bootScript.path} defines fetch_key but sets no KEY_PARAMETER='...'`);
  return { bootScript, parameter, keyFiles };
}

/**
 * The stack's aws_ssm_parameter values by parameter name, for those of `addresses` (the ones the
 * lab has created). `value_wo = file("${path.module}/...")` resolves against the stack directory,
 * as Terraform's path.module does for the root module.
 */
export function readSsmParameters(stackDir: string, addresses: Set<string>): Map<string, ParameterValue> {
  const json = JSON.parse(readFileSync(join(stackDir, "cdk.tf.json"), "utf8")) as {
    resource?: { aws_ssm_parameter?: Record<string, Record<string, unknown>> };
  };
  const parameters = new Map<string, ParameterValue>();
  for (const [name, block] of Object.entries(json.resource?.aws_ssm_parameter ?? {})) {
    const address = `aws_ssm_parameter.${name}`;
    if (!addresses.has(address) || typeof block.name !== "string") continue;
    const value = block.value_wo ?? block.value;
    if (typeof value !== "string") continue;
    const file = /^\$\{file\("\$\{path\.module\}\/([^"]+)"\)\}$/.exec(value)?.[1];
    if (file) parameters.set(block.name, { file: resolve(stackDir, file) });
    else if (!/[$%]\{/.test(value.replace(/\$\$\{|%%\{/g, ""))) parameters.set(block.name, { literal: unescapeTemplate(value) });
    else
      throw new Error(`${address}: its value is an expression the lab does not evaluate (only file("\${path.module}/...") or a literal)`);
  }
  return parameters;
}

/** The AWS provider's literal region: what IMDS would report to instance_region. */
export function providerRegion(stackDir: string): string {
  const json = JSON.parse(readFileSync(join(stackDir, "cdk.tf.json"), "utf8")) as { provider?: { aws?: { region?: unknown }[] } };
  const region = json.provider?.aws?.[0]?.region;
  return typeof region === "string" && /^[a-z0-9-]+$/.test(region) ? region : "lab-region-1";
}

/** Checks, before anything is created, that the member's parameter is in the stack and readable. */
export function checkKeyFetch(member: string, fetch: KeyFetch, parameters: Map<string, ParameterValue>): void {
  const value = parameters.get(fetch.parameter);
  if (!value) {
    throw new Error(
      `${member}: its boot script reads SSM parameter ${fetch.parameter}, which no aws_ssm_parameter of the stack (created before it) stores`
    );
  }
  if ("file" in value && !existsSync(value.file)) {
    throw new Error(
      `${member}: SSM parameter ${fetch.parameter} is file("${value.file}"), which does not exist (Terraform's file() would fail)`
    );
  }
}

export interface KeyFetchRun {
  readonly member: LabMember;
  readonly fetch: KeyFetch;
  readonly parameters: Map<string, ParameterValue>;
  /** The AWS region instance_region reports (the provider's). */
  readonly region: string;
  readonly netns: string;
  /** The member's root and the host directories bind-mounted from it, as its etcd sees them. */
  readonly root: string;
  readonly mountDirs: string[];
  /** Where the lab's boot files go (the member's lab directory, not its root). */
  readonly workDir: string;
  readonly onLine: (line: string) => void;
}

/**
 * Runs the member's own boot script's fetch_key, as root, in the member's network namespace and a
 * mount namespace with its directories mounted as etcd will see them: the script without its last
 * line (`main "$@"`) is sourced, then etcd.conf as main does, instance_region is replaced (there is
 * no IMDS) and `aws` on PATH is the lab's stand-in that prints the stack's parameter value. So the
 * key arrives through the same code, with the same checks, mode and owner, as on EC2.
 */
export async function runFetchKey(run: KeyFetchRun): Promise<void> {
  const { member, fetch } = run;
  const lines = fetch.bootScript.content.trimEnd().split("\n");
  if (lines.pop() !== 'main "$@"') throw new Error(`${member.name}: ${fetch.bootScript.path} does not end with main "$@"`);
  mkdirSync(join(run.workDir, "bin"), { recursive: true, mode: 0o700 });
  const steps = join(run.workDir, "boot-steps.sh");
  writeFileSync(steps, lines.join("\n") + "\n", { mode: 0o700 });
  const aws = join(run.workDir, "bin", "aws");
  writeFileSync(aws, fakeAwsCli(run.parameters, run.workDir), { mode: 0o700 });
  chmodSync(aws, 0o700);

  const script = [
    "set -e",
    ...run.mountDirs.map((dir) => `mount -n --bind ${shQuote(join(run.root, dir))} ${shQuote(dir)}`),
    `. ${shQuote(steps)}`,
    '. "$ETCD_CONF"',
    `instance_region() { echo ${shQuote(run.region)}; }`,
    "fetch_key",
  ].join("\n");
  const r = await runStreaming(["ip", "netns", "exec", run.netns, "unshare", "--mount", "--propagation", "private", "sh", "-c", script], {
    cwd: "/",
    env: { PATH: `${join(run.workDir, "bin")}:${hostPath()}` },
    timeoutMs: 360_000,
    onLine: run.onLine,
  });
  if (r.code !== 0) throw new Error(`${member.name}: fetch_key failed (exit ${r.code ?? "signal"}):\n${r.stdout.trimEnd()}`);
  for (const file of fetch.keyFiles) {
    if (!existsSync(join(run.root, file))) throw new Error(`${member.name}: fetch_key succeeded but ${file} is not there`);
  }
}

/**
 * A stand-in for the AWS CLI that knows one call, `aws ssm get-parameter --name NAME ...`, and
 * prints what `--query Parameter.Value --output text` would: the value and a newline. Values are
 * read when called, from the file Terraform's file() names or from a 0600 copy of a literal.
 */
export function fakeAwsCli(parameters: Map<string, ParameterValue>, workDir: string): string {
  let literals = 0;
  const cases = [...parameters].map(([name, value]) => {
    let file: string;
    if ("file" in value) file = value.file;
    else {
      file = join(workDir, `parameter-${literals++}`);
      writeFileSync(file, value.literal, { mode: 0o600 });
    }
    return `  ${shQuote(name)}) f=${shQuote(file)} ;;`;
  });
  return `#!/bin/sh
# The etcd lab's stand-in for the AWS CLI: the stack's SSM parameters, nothing else.
[ "\${1-} \${2-}" = "ssm get-parameter" ] || { echo "lab aws: only 'aws ssm get-parameter' is modelled, not: aws $*" >&2; exit 252; }
name=
while [ $# -gt 0 ]; do
  case "$1" in
    --name) name=\${2-}; [ $# -gt 1 ] && shift ;;
    --name=*) name=\${1#--name=} ;;
  esac
  shift
done
f=
case "$name" in
${cases.join("\n")}
esac
if [ -z "$f" ]; then
  echo "An error occurred (ParameterNotFound) when calling the GetParameter operation: Parameter $name not found." >&2
  exit 254
fi
cat "$f" || exit 255
[ -z "$(tail -c 1 "$f")" ] || echo
`;
}
