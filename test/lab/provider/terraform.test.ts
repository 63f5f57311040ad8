import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deriveSchema, ProviderHandlers, ProviderServer, startProviderServer, Value } from "../../../lib/lab/provider";
import { requireTerraform, TerraformDir } from "../../support/terraform-run";
import { pemArmour } from "../../support/pem";

// One stack taken through init, validate, apply, plan, replace, update, a type leaving the config and destroy,
// by the real Terraform against the in-process provider. The tests run in order and build on each other.

const FIXTURE = join(__dirname, "fixtures", "cdk.tf.json");
const SECRET = pemArmour("PRIVATE KEY", `SECRET-${process.pid}-${Date.now()}`);
const INSTANCE = "aws_instance.node1_instance[0]";

type Json = Record<string, any>;
type Values = Record<string, Value>;

interface Call {
  readonly event: "create:start" | "create:end" | "update" | "delete" | "readData";
  readonly type: string;
  readonly config?: Values;
  readonly planned?: Values;
  readonly prior?: Values;
  /** Whether terraform_data's local-exec provisioner had already run (it must wait for the instance). */
  readonly provisionerHadRun?: boolean;
}

let dir: string;
let terraform: TerraformDir;
let server: ProviderServer;
let calls: Call[] = [];
const rpcs = new Set<string>();
let ids = 0;

async function recordCreate({ type, config, planned }: Parameters<ProviderHandlers["create"]>[0]): Promise<Values> {
  calls.push({ event: "create:start", type, config, planned, provisionerHadRun: existsSync(join(dir, "provisioner.log")) });
  // Slow enough that an instance ignoring depends_on would start before the parameter is done.
  if (type === "aws_ssm_parameter") await new Promise((r) => setTimeout(r, 400));
  calls.push({ event: "create:end", type });
  return { id: `${type.replace("aws_", "")}-${++ids}`, arn: `arn:aws:test:::${type}/${ids}` };
}

async function recordUpdate({ type, config, planned, prior }: Parameters<ProviderHandlers["update"]>[0]): Promise<Values> {
  calls.push({ event: "update", type, config, planned, prior });
  return {};
}

const handlers: ProviderHandlers = {
  create: recordCreate,
  update: recordUpdate,
  async delete({ type, prior }) {
    calls.push({ event: "delete", type, prior });
  },
  async readData({ type, config }) {
    calls.push({ event: "readData", type, config });
    return { id: "ami-0123456789abcdef0" };
  },
};

function readJson(file: string): Json {
  return JSON.parse(readFileSync(join(dir, file), "utf8"));
}

function writeStack(edit: (stack: Json) => void): Json {
  const stack = readJson("cdk.tf.json");
  edit(stack);
  writeFileSync(join(dir, "cdk.tf.json"), JSON.stringify(stack, null, 2));
  return stack;
}

async function serve(stack: Json, state?: Json): Promise<void> {
  await server?.close();
  server = await startProviderServer({
    socketPath: join(dir, "aws.sock"),
    schema: deriveSchema(stack, state),
    handlers,
    log: (line) => rpcs.add(line.split(" ")[0]),
  });
  terraform.reattachTo(server.reattach);
}

const events = (event: Call["event"]) => calls.filter((c) => c.event === event).map((c) => c.type);

beforeAll(async () => {
  requireTerraform();
  dir = mkdtempSync(join(tmpdir(), "tf-provider-"));
  writeFileSync(join(dir, "cdk.tf.json"), readFileSync(FIXTURE));
  writeFileSync(join(dir, "key.pem"), SECRET);
  terraform = new TerraformDir(dir, "");
  await serve(readJson("cdk.tf.json"));
});

afterAll(async () => {
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => (calls = []));

test("GIVEN a stack requiring hashicorp/aws 6.25.0 WHEN terraform init runs with the provider reattached THEN it installs nothing and succeeds", async () => {
  const output = await terraform.expect(0, "init", "-input=false");
  expect(output).toContain("Terraform has been successfully initialized!");
  expect(output).not.toMatch(/Installing hashicorp\/aws/);
});

test("GIVEN a reference to the count resource without [0] WHEN terraform validate runs THEN Terraform itself reports the missing instance key", async () => {
  const original = readFileSync(join(dir, "cdk.tf.json"));
  try {
    const stack = writeStack((s) => (s.output.bad_ip = { value: "${aws_instance.node1_instance.private_ip}" }));
    await serve(stack);
    const result = await terraform.run("validate");
    expect(result.code).toBe(1);
    expect(result.output).toContain("Missing resource instance key");
  } finally {
    writeFileSync(join(dir, "cdk.tf.json"), original);
    await serve(readJson("cdk.tf.json"));
  }
});

test("GIVEN the stack WHEN terraform apply runs THEN the handlers create it in dependency order, with write-only and escaped values as Terraform evaluates them", async () => {
  const output = await terraform.expect(0, "apply", "-auto-approve", "-input=false");
  expect(output).toContain("Apply complete! Resources: 5 added, 0 changed, 0 destroyed.");

  // depends_on: the instance starts only once the (slow) parameter is created, and before terraform_data's provisioner.
  const order = calls.map((c) => `${c.event} ${c.type}`);
  expect(order.indexOf("create:start aws_instance")).toBeGreaterThan(order.indexOf("create:end aws_ssm_parameter"));
  expect(order.indexOf("create:start aws_subnet")).toBeGreaterThan(order.indexOf("create:end aws_vpc"));
  const instance = calls.find((c) => c.event === "create:start" && c.type === "aws_instance")!;
  expect(instance.provisionerHadRun).toBe(false);
  expect(readFileSync(join(dir, "provisioner.log"), "utf8")).toBe("10.0.1.10\n");

  // Known values arrive as configured ($${x} unescaped, nested objects typed, references resolved); unknown ones are absent.
  expect(instance.config!.user_data).toBe('#!/bin/sh\nx=1\necho "${x}"\n');
  expect(instance.config!.ami).toBe("ami-0123456789abcdef0");
  expect(instance.config!.subnet_id).toMatch(/^subnet-\d+$/);
  expect(instance.config!.metadata_options).toEqual({ http_endpoint: "enabled", http_put_response_hop_limit: 1, http_tokens: "required" });
  expect(instance.config!.root_block_device).toEqual({ encrypted: true, volume_size: 20, volume_type: "gp3" });
  expect(instance.planned).not.toHaveProperty("id");
  expect(events("readData")).toContain("aws_ami");
  expect(calls.find((c) => c.type === "aws_ami")!.config!.filter).toEqual([
    { name: "name", values: ["al2023-ami-2023.*-x86_64"] },
    { name: "architecture", values: ["x86_64"] },
  ]);

  // The write-only key reaches create through config only, and is nowhere in the state.
  const parameter = calls.find((c) => c.event === "create:start" && c.type === "aws_ssm_parameter")!;
  expect(parameter.config!.value_wo).toBe(SECRET);
  expect(parameter.config!.value_wo_version).toBe(148095251894693);
  expect(parameter.planned!.value_wo).toBeNull();
  const stateText = readFileSync(join(dir, "terraform.tfstate"), "utf8");
  expect(stateText).not.toContain("SECRET-");
  const state = JSON.parse(stateText);
  expect(state.outputs.vpc_arn.value).toMatch(/^arn:aws:test:::aws_vpc\/\d+$/);
  expect(state.outputs.member_ip.value).toBe("10.0.1.10");
});

test("GIVEN the applied stack WHEN terraform plan -detailed-exitcode runs THEN it reports no changes (exit 0)", async () => {
  const output = await terraform.expect(0, "plan", "-detailed-exitcode", "-input=false");
  expect(output).toContain("No changes.");
  expect(events("create:start")).toEqual([]);
});

test("GIVEN a changed private_ip (force-new on aws_instance) WHEN planned and applied THEN the instance is replaced", async () => {
  writeStack((s) => (s.resource.aws_instance.node1_instance.private_ip = "10.0.1.11"));
  const plan = await terraform.expect(2, "plan", "-detailed-exitcode", "-input=false");
  expect(plan).toContain(`# ${INSTANCE} must be replaced`);
  expect(plan).toMatch(/private_ip\s+= "10\.0\.1\.10" -> "10\.0\.1\.11" # forces replacement/);

  await terraform.expect(0, "apply", "-auto-approve", "-input=false");
  expect(calls.filter((c) => c.type === "aws_instance").map((c) => c.event)).toEqual(["delete", "create:start", "create:end"]);
  expect(calls.find((c) => c.event === "create:start")!.config!.private_ip).toBe("10.0.1.11");
  await terraform.expect(0, "plan", "-detailed-exitcode", "-input=false");
});

test("GIVEN a changed tag and user_data under ignore_changes WHEN planned and applied THEN the instance is updated in place and user_data is left alone", async () => {
  writeStack((s) => {
    s.resource.aws_instance.node1_instance.tags.Name = "node1-renamed";
    s.resource.aws_instance.node1_instance.user_data = "#!/bin/sh\necho changed\n";
  });
  const plan = await terraform.expect(2, "plan", "-detailed-exitcode", "-input=false");
  expect(plan).toContain(`# ${INSTANCE} will be updated in-place`);
  expect(plan).toContain("Plan: 0 to add, 1 to change, 0 to destroy.");

  await terraform.expect(0, "apply", "-auto-approve", "-input=false");
  const [update, ...others] = calls.filter((c) => c.event !== "readData");
  expect(others).toEqual([]);
  expect(update).toMatchObject({ event: "update", type: "aws_instance" });
  expect(update.prior!.tags).toEqual({ Name: "node1", "etcd:member": "node1" });
  expect(update.planned!.tags).toEqual({ Name: "node1-renamed", "etcd:member": "node1" });
  expect(update.planned!.id).toBe(update.prior!.id);
  // ignore_changes applies to the plan: `planned` keeps the applied user_data, while `config` is the file as written.
  expect(update.planned!.user_data).toBe('#!/bin/sh\nx=1\necho "${x}"\n');
  expect(update.config!.user_data).toBe("#!/bin/sh\necho changed\n");
  await terraform.expect(0, "plan", "-detailed-exitcode", "-input=false");
});

test("GIVEN a handler that fails an update WHEN applied THEN Terraform prints its message and keeps the prior state", async () => {
  const original = readFileSync(join(dir, "cdk.tf.json"));
  handlers.update = async () => {
    throw new Error('cannot tag node1\nthe lab refuses the Name "fail"');
  };
  try {
    writeStack((s) => (s.resource.aws_instance.node1_instance.tags.Name = "fail"));
    const result = await terraform.run("apply", "-auto-approve", "-input=false");
    expect(result.code).toBe(1);
    expect(result.output).toMatch(
      /Error: cannot tag node1\s+with aws_instance\.node1_instance\[0\],[\s\S]*the lab refuses the Name "fail"/
    );
  } finally {
    handlers.update = recordUpdate;
    writeFileSync(join(dir, "cdk.tf.json"), original);
  }
  const instance = readJson("terraform.tfstate").resources.find((r: Json) => r.type === "aws_instance");
  expect(instance.instances[0].attributes.tags.Name).toBe("node1-renamed");
  await terraform.expect(0, "plan", "-detailed-exitcode", "-input=false");
});

test("GIVEN a resource type removed from the config but still in state WHEN applied with the schema derived from config and state THEN it is destroyed", async () => {
  const stack = writeStack((s) => {
    delete s.resource.aws_ssm_parameter;
    delete s.resource.aws_instance.node1_instance.depends_on;
  });
  const state = readJson("terraform.tfstate");
  expect(deriveSchema(stack).resources).not.toHaveProperty("aws_ssm_parameter");
  expect(deriveSchema(stack, state).resources.aws_ssm_parameter.attributes.value_wo).toMatchObject({ writeOnly: true });
  await serve(stack, state);

  const output = await terraform.expect(0, "apply", "-auto-approve", "-input=false");
  expect(output).toContain("Apply complete! Resources: 0 added, 0 changed, 1 destroyed.");
  expect(calls.filter((c) => c.event === "delete").map((c) => [c.type, c.prior!.name])).toEqual([["aws_ssm_parameter", "/test/node1"]]);
  expect(readJson("terraform.tfstate").resources.map((r: Json) => r.type)).not.toContain("aws_ssm_parameter");
});

test("GIVEN the stack WHEN terraform destroy runs THEN everything is deleted, dependents first", async () => {
  const output = await terraform.expect(0, "destroy", "-auto-approve", "-input=false");
  expect(output).toContain("Destroy complete! Resources: 4 destroyed.");
  const deleted = events("delete");
  expect(deleted.sort()).toEqual(["aws_instance", "aws_subnet", "aws_vpc"]);
  const order = calls.filter((c) => c.event === "delete").map((c) => c.type);
  expect(order.indexOf("aws_instance")).toBeLessThan(order.indexOf("aws_subnet"));
  expect(order.indexOf("aws_subnet")).toBeLessThan(order.indexOf("aws_vpc"));
  expect(readJson("terraform.tfstate").resources).toEqual([]);
});

test("GIVEN a create in flight WHEN Terraform is interrupted THEN it calls StopProvider and the handler's signal aborts", async () => {
  let started: () => void = () => undefined;
  const inFlight = new Promise<void>((r) => (started = r));
  let aborted = false;
  handlers.create = ({ signal }) =>
    new Promise((_, reject) => {
      started();
      signal.addEventListener("abort", () => {
        aborted = true;
        reject(new Error("stopped while creating"));
      });
    });
  try {
    const run = terraform.start("apply", "-auto-approve", "-input=false");
    await inFlight;
    run.interrupt();
    const result = await run.result;
    expect(result.code).toBe(1);
    expect(result.output).toContain("Interrupt received");
    expect(result.output).toContain("Error: stopped while creating");
  } finally {
    handlers.create = recordCreate;
  }
  expect(aborted).toBe(true);
  expect(rpcs).toContain("StopProvider");
  await terraform.expect(0, "destroy", "-auto-approve", "-input=false");
});

test("GIVEN the runs above THEN Terraform called the protocol-6 RPCs the provider serves", () => {
  for (const rpc of [
    "GetProviderSchema",
    "ValidateProviderConfig",
    "ValidateResourceConfig",
    "ValidateDataResourceConfig",
    "ConfigureProvider",
    "UpgradeResourceState",
    "ReadResource",
    "ReadDataSource",
    "PlanResourceChange",
    "ApplyResourceChange",
  ]) {
    expect(rpcs).toContain(rpc);
  }
});
