// A user's snapshot test: Testing.synth of a stack holding an EtcdCluster must not depend on the
// machine, the checkout path, the run, or a PKI directory; and the test PKI it then uses must be
// impossible to deploy.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { EtcdCluster, EtcdClusterConfigError, type EtcdClusterProps } from "../../lib";
import { App, TerraformStack, Testing } from "../../lib/cdktf";
import { ALLOW_TEST_PKI_CONTEXT } from "../../lib/config/resolve-pki";
import { TEST_CA_COMMON_NAME } from "../../lib/pki/test-pki";
import { SEED } from "../support/synth";
import { requireTool } from "../support/tools";

function stackIn(app: App, props: Partial<EtcdClusterProps> = {}): TerraformStack {
  const stack = new TerraformStack(app, "app");
  new AwsProvider(stack, "aws", { region: "eu-west-1" });
  new EtcdCluster(stack, "etcd", { members: SEED, ...props });
  return stack;
}

/** Runs `fn` with the current directory at a fresh temporary one, as another checkout would be; removes it after. */
function inFreshDirectory<T>(fn: (dir: string) => T): T {
  const before = process.cwd();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "checkout-"));
  process.chdir(dir);
  try {
    return fn(dir);
  } finally {
    process.chdir(before);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe("EtcdCluster under cdktf's Testing", () => {
  test("GIVEN no PKI directory WHEN synthesized from two checkouts THEN the output is byte-identical and no PKI is written", () => {
    // GIVEN / WHEN: the default PKI directory is relative to the current directory
    const synth = () =>
      inFreshDirectory((dir) => {
        const text = Testing.synth(stackIn(Testing.app()));
        expect(fs.readdirSync(dir)).toEqual([]);
        return text;
      });
    const [first, second] = [synth(), synth()];
    // THEN
    expect(second).toBe(first);
    expect(first).not.toContain(os.tmpdir());
    expect(first).toMatchSnapshot();
  });

  test("GIVEN an absolute pki.directory inside the project THEN file() paths and outputs name it relative to the project", () => {
    const text = inFreshDirectory((dir) => Testing.synth(stackIn(Testing.app(), { pki: { directory: path.join(dir, "keys") } })));
    const json = JSON.parse(text);
    expect(text).not.toContain(os.tmpdir());
    const parameter: any = Object.values(json.resource.aws_ssm_parameter)[0];
    expect(parameter.value_wo).toMatch(/^\$\{file\("\$\{path\.module\}\/\.\.\/\.\.\/\.\.\/keys\/etcd_node\d-key\.pem"\)\}$/);
    expect(json.output.etcd_etcdctl_environment.value).toContain("export ETCDCTL_CACERT=keys/ca.pem");
  });

  test("GIVEN Testing THEN the certificates come from the test PKI and the stack carries its plan-time guard", () => {
    const json = JSON.parse(Testing.synth(stackIn(Testing.app())));
    expect(json.locals.etcd_insecure_test_pki).toMatch(/^INSECURE test PKI, CA sha256 [0-9a-f]{64}$/);
    expect(json.output.etcd_insecure_test_pki_guard.precondition).toEqual([
      { condition: "${local.etcd_insecure_test_pki == null}", error_message: expect.stringContaining("must never be deployed") },
    ]);
    for (const type of ["aws_instance", "aws_ssm_parameter"]) {
      for (const resource of Object.values<any>(json.resource[type])) {
        expect(resource.lifecycle.precondition).toEqual(json.output.etcd_insecure_test_pki_guard.precondition);
      }
    }
    expect(Object.values<any>(json.resource.aws_instance)[0].lifecycle.ignore_changes).toEqual(["user_data", "ami", "instance_type"]);
  });

  test.each([
    ["another seed", { testSeed: "mine" }, true],
    ["the default seed given explicitly", { source: "test" as const }, false],
  ])("GIVEN %s THEN the cluster differs from the default accordingly", (_what, pki, differs) => {
    const token = (props: Partial<EtcdClusterProps>) => {
      const json = JSON.parse(Testing.synth(stackIn(Testing.app(), props)));
      return Object.values<any>(json.resource.aws_instance)[0].tags["etcd:cluster"];
    };
    expect(token({ pki }) !== token({})).toBe(differs);
  });

  test('GIVEN pki.source "directory" under Testing THEN the real PKI directory is used and written', () => {
    inFreshDirectory((dir) => {
      const json = JSON.parse(Testing.synth(stackIn(Testing.app(), { pki: { source: "directory", directory: "pki" } })));
      expect(json.locals).toBeUndefined();
      expect(fs.readdirSync(path.join(dir, "pki"))).toContain("ca-key.pem");
      expect(fs.readFileSync(path.join(dir, "pki", "ca.pem"), "utf8")).not.toContain(TEST_CA_COMMON_NAME);
    });
  });
});

describe("the test PKI outside Testing", () => {
  const realApp = (dir: string, context?: Record<string, unknown>) =>
    new App({ outdir: path.join(dir, "cdktf.out"), stackTraces: false, context });

  test.each([
    ['pki.source "test"', { source: "test" as const }, 'pki.source is "test"'],
    ["pki.testSeed", { testSeed: "x" }, "pki.testSeed is set"],
  ])("GIVEN a real App and %s WHEN synthesized THEN it is refused, saying why and how to get a real PKI", (_what, pki, named) => {
    inFreshDirectory((dir) => {
      const make = () => stackIn(realApp(dir), { pki });
      expect(make).toThrow(EtcdClusterConfigError);
      expect(make).toThrow(named);
      expect(make).toThrow("Remove pki.source and pki.testSeed for a real PKI");
      expect(make).toThrow(ALLOW_TEST_PKI_CONTEXT);
    });
  });

  test("GIVEN a real App and no test PKI props THEN the PKI directory is used, as before", () => {
    inFreshDirectory((dir) => {
      const app = realApp(dir);
      stackIn(app);
      app.synth();
      expect(fs.readdirSync(path.join(dir, ".etcd-pki", "app", "etcd"))).toContain("ca-key.pem");
    });
  });

  test.each([
    [{ source: "bogus" }, 'pki.source is "bogus"'],
    [{ testSeed: "" }, 'pki.testSeed is ""'],
    [{ source: "directory", testSeed: "x" }, 'pki.testSeed is set but pki.source is "directory"'],
  ])("GIVEN pki %j THEN synth fails naming the field and the fix", (pki, message) => {
    expect(() => stackIn(Testing.app(), { pki: pki as any })).toThrow(message);
  });

  test("GIVEN the allow context WHEN synthesized and planned by the real terraform THEN the plan fails on the guard and creates nothing", () => {
    const terraform = requireTool("terraform", "terraform");
    inFreshDirectory((dir) => {
      // GIVEN: synthesized to disk, as `cdktf synth` would
      const app = realApp(dir, { [ALLOW_TEST_PKI_CONTEXT]: true });
      stackIn(app, { pki: { source: "test" } });
      app.synth();
      const json = JSON.parse(fs.readFileSync(path.join(dir, "cdktf.out", "stacks", "app", "cdk.tf.json"), "utf8"));
      expect(fs.existsSync(path.join(dir, ".etcd-pki"))).toBe(false);
      // WHEN: its locals and outputs (no provider: this runs offline) are planned
      const work = path.join(dir, "tf");
      fs.mkdirSync(work);
      fs.writeFileSync(path.join(work, "main.tf.json"), JSON.stringify({ locals: json.locals, output: json.output }));
      const env = { ...process.env, TF_IN_AUTOMATION: "1", CHECKPOINT_DISABLE: "1" };
      const run = (...args: string[]) => spawnSync(terraform, [...args, "-input=false", "-no-color"], { cwd: work, env, encoding: "utf8" });
      expect(run("init").status).toBe(0);
      const plan = run("plan");
      // THEN
      expect(plan.status).toBe(1);
      expect(plan.stderr).toContain("Module output value precondition failed");
      expect(plan.stderr.replace(/\s+/g, " ")).toContain("was synthesized with the INSECURE test PKI");
      expect(fs.existsSync(path.join(work, "terraform.tfstate"))).toBe(false);
    });
  });
});
