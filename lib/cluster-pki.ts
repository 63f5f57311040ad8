// Which PKI an EtcdCluster renders with, and where its synthesized paths point.
//
// Under cdktf's Testing the cluster uses the seeded test PKI unless told otherwise, so a user's
// snapshot test is byte-identical on a fresh clone (no PKI directory), on another machine and at
// another checkout path. A test PKI's keys are public, so it is refused in a real synth unless the
// app opts in, and whatever synthesizes one carries a guard that fails `terraform plan`.
import * as os from "node:os";
import * as path from "node:path";
import type { Construct, IConstruct } from "constructs";
import { App, Aspects, TerraformLocal, TerraformOutput, TerraformResource, TerraformStack, Token, ref } from "./cdktf";
import type { ResolvedPki } from "./config/resolved-cluster";
import { type MemberCertificateRequest, PkiDirectory, type PkiPlan } from "./pki/pki-directory";
import { planTestPki } from "./pki/test-pki";

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
export function planClusterPki(scope: Construct, pki: ResolvedPki, requests: readonly MemberCertificateRequest[]): PkiPlan {
  if (pki.source === "directory") return new PkiDirectory(pki).plan(requests);
  const plan = planTestPki({ seed: pki.testSeed, keySize: pki.keySize, directory: pki.directory }, requests);
  guardAgainstDeploy(scope, plan.material.caFingerprintSha256);
  return plan;
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

/** A PKI path as the outputs name it: under Testing, relative to the current directory when inside it. */
export function displayedPath(scope: IConstruct, file: string): string {
  if (!isTestingApp(scope) || !path.isAbsolute(file)) return file;
  const relative = path.relative(process.cwd(), file);
  return relative === "" || relative.startsWith("..") || path.isAbsolute(relative) ? file : relative.split(path.sep).join("/");
}
