// `etcd-cluster pki push|pull`: the PKI directory to and from SSM Parameter Store, one SecureString
// per file under a prefix, so a team and its CI share the one PKI a cluster was deployed with
// (`pki pull && cdktf deploy`). The AWS CLI does the talking (credentials, regions, retries and
// signing are its business); this command decides what is copied and how files come back.
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { ssmParameterNameProblem } from "../aws/ssm-parameter-name";
import { parseFlags } from "../membership/etcd-membership";
import { writePkiFiles } from "../pki/pki-directory";
import { UsageError } from "./connection";

export const PKI_USAGE = `  pki push DIR --prefix /NAME [--kms-key-id KEY]   copy the PKI directory to SSM SecureStrings under /NAME
  pki pull DIR --prefix /NAME [--force]            restore it from there (directory 0700, keys 0600)
                                                   both take --region R and --endpoint-url URL (a VPC endpoint)`;

/** What a PKI directory holds and `pki` copies: cfssl-named PEM files, nothing else. */
const PKI_FILE = /^[A-Za-z0-9][A-Za-z0-9_-]*\.pem$/;

export async function pkiCommand(args: string[], out: (line: string) => void): Promise<number> {
  const [verb, dir, ...rest] = args;
  // --force takes no value: taken out before parseFlags, which would read the next word as one.
  const force = rest.includes("--force");
  const flags = parseFlags(rest.filter((a) => a !== "--force"));
  try {
    if (verb !== "push" && verb !== "pull") throw new UsageError(`pki takes push or pull, not ${JSON.stringify(verb)}:\n${PKI_USAGE}`);
    if (!dir || dir.startsWith("--"))
      throw new UsageError(`pki ${verb} needs the PKI directory: etcd-cluster pki ${verb} .etcd-pki/STACK/ID --prefix /NAME`);
    const prefix = checkedPrefix(flags.prefix);
    const aws = new AwsCli(flags.region, flags["endpoint-url"]);
    if (verb === "push") await push(dir, prefix, flags["kms-key-id"], aws, out);
    else await pull(dir, prefix, force, aws, out);
    return 0;
  } catch (err) {
    out(`etcd-cluster pki ${verb ?? ""}: ${(err as Error).message}`);
    return err instanceof UsageError ? 2 : 1;
  }
}

function checkedPrefix(prefix: string | undefined): string {
  if (!prefix) throw new UsageError("pki needs --prefix /NAME, the SSM path its files live under, e.g. --prefix /etcd-pki/prod");
  const trimmed = prefix.replace(/\/+$/, "");
  const problem = ssmParameterNameProblem(`${trimmed}/ca-key.pem`);
  if (problem || !trimmed.startsWith("/")) {
    throw new UsageError(`--prefix ${JSON.stringify(prefix)}: ${problem ?? 'must start with "/"'}; give a path such as /etcd-pki/prod`);
  }
  return trimmed;
}

async function push(dir: string, prefix: string, kmsKeyId: string | undefined, aws: AwsCli, out: (line: string) => void): Promise<void> {
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => PKI_FILE.test(f) && fs.statSync(path.join(dir, f)).isFile()) : [];
  if (!files.includes("ca.pem") || !files.includes("ca-key.pem")) {
    throw new Error(`${dir} holds no CA (ca.pem and ca-key.pem): point it at the PKI directory the cluster was deployed with`);
  }
  for (const file of files.sort()) {
    // file://: the CLI reads the value itself, so no key passes through a command line.
    await aws.run([
      "ssm",
      "put-parameter",
      "--name",
      `${prefix}/${file}`,
      "--type",
      "SecureString",
      "--tier",
      "Standard",
      "--overwrite",
      "--value",
      `file://${path.resolve(dir, file)}`,
      ...(kmsKeyId ? ["--key-id", kmsKeyId] : []),
    ]);
    out(`pushed ${file} to ${prefix}/${file}`);
  }
  out(
    `pushed ${files.length} files of ${dir} to ${prefix} (SecureString${
      kmsKeyId ? `, KMS key ${kmsKeyId}` : ", the account's aws/ssm key"
    })`
  );
}

async function pull(dir: string, prefix: string, force: boolean, aws: AwsCli, out: (line: string) => void): Promise<void> {
  const listed = JSON.parse(
    await aws.run(["ssm", "get-parameters-by-path", "--path", prefix, "--with-decryption", "--output", "json"])
  ) as {
    Parameters?: { Name: string; Value: string }[];
  };
  const files = new Map<string, string>();
  for (const { Name, Value } of listed.Parameters ?? []) {
    const file = Name.slice(prefix.length + 1);
    if (!PKI_FILE.test(file))
      throw new Error(`${Name} is not a PKI file (${prefix}/<name>.pem): it was not pushed by etcd-cluster pki push`);
    files.set(file, Value);
  }
  if (!files.has("ca.pem") || !files.has("ca-key.pem")) {
    throw new Error(`${prefix} holds no CA (ca.pem and ca-key.pem): push a PKI directory there first, or check --prefix and --region`);
  }
  const changed = [...files].filter(([file, contents]) => {
    const existing = fs.existsSync(path.join(dir, file)) ? fs.readFileSync(path.join(dir, file), "utf8") : undefined;
    return existing !== undefined && existing !== contents;
  });
  if (changed.length > 0 && !force) {
    throw new Error(
      `${dir} already holds other versions of ${changed.map(([f]) => f).join(", ")}: move it away first, or pass --force to replace them`
    );
  }
  writePkiFiles(dir, files);
  out(`pulled ${files.size} files from ${prefix} into ${dir}`);
}

/** The AWS CLI, run without a shell; its error output is the message when it fails. */
class AwsCli {
  private readonly common: string[];

  constructor(region: string | undefined, endpointUrl: string | undefined) {
    this.common = ["--no-cli-pager", ...(region ? ["--region", region] : []), ...(endpointUrl ? ["--endpoint-url", endpointUrl] : [])];
  }

  run(args: string[]): Promise<string> {
    const command = process.env.ETCD_CLUSTER_AWS_CLI ?? "aws";
    return new Promise((resolve, reject) => {
      execFile(
        command,
        [...args, ...this.common],
        { encoding: "utf8", env: process.env, maxBuffer: 16 * 1024 * 1024 },
        (error, stdout, stderr) => {
          if (!error) return resolve(stdout);
          const code = (error as NodeJS.ErrnoException).code;
          if (typeof code === "string") {
            return reject(new Error(`cannot run ${command} (${code}): install the AWS CLI (apt-get install awscli, or AWS's installer)`));
          }
          reject(new Error(`aws ${args.slice(0, 2).join(" ")} failed: ${(stderr || stdout).trim()}`));
        }
      );
    });
  }
}
