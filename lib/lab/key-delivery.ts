import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
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

/** SSM parameters the stack stored: name to the 0600 file holding the value. */
export type SsmParameters = ReadonlyMap<string, string>;

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

/** Checks, before anything is created, that the member's parameter is in the stack and readable. */
export function checkKeyFetch(member: string, fetch: KeyFetch, parameters: SsmParameters): void {
  const file = parameters.get(fetch.parameter);
  if (!file) {
    throw new Error(
      `${member}: its boot script reads SSM parameter ${fetch.parameter}, which no aws_ssm_parameter of the stack (created before it) stores`
    );
  }
}

export interface KeyFetchRun {
  readonly member: LabMember;
  readonly fetch: KeyFetch;
  readonly parameters: SsmParameters;
  /** The AWS region instance_region reports (the provider's). */
  /** What instance_region reports: the region of the provider block, as Terraform evaluated it. */
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
  writeFileSync(aws, fakeAwsCli(run.parameters), { mode: 0o700 });
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
 * prints what `--query Parameter.Value --output text` would: the value and a newline, read when
 * called from the file the lab's SSM store keeps it in.
 */
export function fakeAwsCli(parameters: SsmParameters): string {
  const cases = [...parameters].map(([name, file]) => `  ${shQuote(name)}) f=${shQuote(file)} ;;`);
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
