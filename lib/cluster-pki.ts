// Which PKI an EtcdCluster renders with, and where its synthesized paths point.
//
// Under cdktf's Testing the cluster uses the seeded test PKI unless told otherwise, so a user's
// snapshot test is byte-identical on a fresh clone (no PKI directory), on another machine and at
// another checkout path. A test PKI's keys are public, so it is refused in a real synth unless the
// app opts in, and whatever synthesizes one carries a guard that fails `terraform plan`.
import * as os from "node:os";
import * as path from "node:path";
import type { Construct, IConstruct } from "constructs";
import { Annotations, App, Aspects, TerraformLocal, TerraformOutput, TerraformResource, TerraformStack, Token, ref } from "./cdktf";
import { type MemberCertificateRequest, PkiDirectory, type PkiDirectoryOptions, type PkiPlan } from "./pki/pki-directory";
import { DEFAULT_TEST_PKI_SEED, planTestPki } from "./pki/test-pki";
import type { EtcdPkiOptions } from "./props";
import { EtcdClusterConfigError } from "./validation";

/** App context that lets a real (non-Testing) synth use `pki.source: "test"`. The plan still fails. */
export const ALLOW_TEST_PKI_CONTEXT = "etcd-cluster:allowTestPki";

/** Resources that would carry the test PKI's keys to AWS: each gets the guard as a precondition too. */
const GUARDED_RESOURCES = new Set(["aws_instance", "aws_ssm_parameter"]);

/** True in an app made by cdktf's (or cdktn's) Testing.app(). */
export function isTestingApp(scope: IConstruct): boolean {
  const app = App.of(scope);
  if (app.node.tryGetContext("cdktfVersion") === "stubbed") return true;
  // Testing.app({ stubVersion: false }) still makes its outdir this way.
  return path.basename(app.outdir).startsWith("cdktf.outdir.") && path.dirname(path.resolve(app.outdir)) === path.resolve(os.tmpdir());
}

/** The PKI for `scope`'s cluster: the directory's (read, then written on commit) or the seeded test PKI (neither). */
export function planClusterPki(
  scope: Construct,
  options: EtcdPkiOptions | undefined,
  directoryOptions: PkiDirectoryOptions,
  requests: readonly MemberCertificateRequest[]
): PkiPlan {
  const source = chooseSource(scope, options);
  if (source === "directory") return new PkiDirectory(directoryOptions).plan(requests);
  const plan = planTestPki(
    { seed: options?.testSeed ?? DEFAULT_TEST_PKI_SEED, keySize: directoryOptions.keySize, directory: directoryOptions.directory },
    requests
  );
  guardAgainstDeploy(scope, plan.material.caFingerprintSha256);
  return plan;
}

function chooseSource(scope: Construct, options: EtcdPkiOptions | undefined): "directory" | "test" {
  const where = scope.node.path;
  const { source, testSeed } = options ?? {};
  const problems: string[] = [];
  if (source !== undefined && source !== "directory" && source !== "test") {
    problems.push(`pki.source is ${JSON.stringify(source)}: use "directory" (a real PKI) or "test" (the seeded test PKI), or leave it out`);
  }
  if (testSeed !== undefined && (typeof testSeed !== "string" || testSeed.length === 0)) {
    problems.push(`pki.testSeed is ${JSON.stringify(testSeed)}: give a non-empty string, or leave it out for the default seed`);
  }
  if (source === "directory" && testSeed !== undefined) {
    problems.push(`pki.testSeed is set but pki.source is "directory", which never uses it: remove one of them`);
  }
  if (problems.length > 0) throw new EtcdClusterConfigError(where, problems);

  const testing = isTestingApp(scope);
  const chosen = source ?? (testSeed !== undefined || testing ? "test" : "directory");
  if (chosen === "test" && !testing) {
    if (App.of(scope).node.tryGetContext(ALLOW_TEST_PKI_CONTEXT) !== true) {
      throw new EtcdClusterConfigError(where, [
        `pki.${source === "test" ? 'source is "test"' : "testSeed is set"}, but this app is not cdktf's Testing.app(): ` +
          `the test PKI's private keys follow from a public seed, so a cluster using it is not secure. ` +
          `Remove pki.source and pki.testSeed for a real PKI in pki.directory; ` +
          `use Testing.app() in tests; or, to synthesize it anyway (its terraform plan always fails), set the app context "${ALLOW_TEST_PKI_CONTEXT}": true`,
      ]);
    }
    Annotations.of(scope).addWarning(
      `EtcdCluster ${where}: synthesized with the INSECURE test PKI (${ALLOW_TEST_PKI_CONTEXT}); terraform plan of this stack fails by design`
    );
  }
  return chosen;
}

// A local naming the CA, an output whose precondition can never hold, and the same precondition on
// each resource that would carry a key (so a `-target`ed apply fails too). Terraform checks them in
// `plan`, before it creates anything. A precondition has to refer to something: the local.
function guardAgainstDeploy(scope: Construct, caFingerprint: string): void {
  const id = scope.node.id.replace(/[^A-Za-z0-9_]/g, "_");
  const local = new TerraformLocal(scope, "insecure-test-pki", `INSECURE test PKI, CA sha256 ${caFingerprint}`);
  local.overrideLogicalId(`${id}_insecure_test_pki`);
  // Written out, not Op.eq: Op renders a "" operand as `undefined`, which Terraform does not know.
  const condition = Token.asString(ref(`local.${id}_insecure_test_pki == null`));
  const errorMessage =
    `EtcdCluster ${scope.node.path} was synthesized with the INSECURE test PKI (pki.source "test", or the default under ` +
    `cdktf's Testing): its private keys follow from a public seed. This stack is for snapshot tests and must never be ` +
    `deployed. Synthesize it with a real App and without pki.source/pki.testSeed to get a PKI of its own.`;
  const output = new TerraformOutput(scope, "insecure-test-pki-guard", {
    value: local.asString,
    description: "Fails terraform plan: this stack holds the insecure test PKI",
  });
  output.overrideLogicalId(`${id}_insecure_test_pki_guard`);
  // An override: TerraformOutput's own `precondition` is dropped from the synthesized JSON.
  output.addOverride("precondition", [{ condition, error_message: errorMessage }]);
  Aspects.of(scope).add({
    visit(node: IConstruct) {
      if (node instanceof TerraformResource && GUARDED_RESOURCES.has(node.terraformResourceType)) {
        node.addOverride("lifecycle.precondition", [{ condition, error_message: errorMessage }]);
      }
    },
  });
}

/**
 * The directory Terraform runs the stack in, which file() and the provisioners' paths are relative
 * to. Under Testing the outdir is a fresh temporary directory: the paths are made as `cdktf synth`
 * from the current directory would make them, so they do not change from one run or machine to the next.
 */
export function terraformWorkingDirectory(scope: IConstruct): string {
  const outdir = isTestingApp(scope) ? path.resolve("cdktf.out") : App.of(scope).outdir;
  return path.resolve(outdir, "stacks", TerraformStack.of(scope).node.id);
}

/** The PKI directory as the outputs name it: under Testing, relative to the current directory when inside it. */
export function displayedPkiDirectory(scope: IConstruct, directory: string): string {
  if (!isTestingApp(scope) || !path.isAbsolute(directory)) return directory;
  const relative = path.relative(process.cwd(), directory);
  return relative === "" || relative.startsWith("..") || path.isAbsolute(relative) ? directory : relative.split(path.sep).join("/");
}
