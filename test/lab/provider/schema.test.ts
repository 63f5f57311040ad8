import { readFileSync } from "node:fs";
import { join } from "node:path";
import { deriveSchema } from "../../../lib/lab/provider";

const FIXTURE = JSON.parse(readFileSync(join(__dirname, "fixtures", "cdk.tf.json"), "utf8"));

const optional = { optional: true, computed: false, writeOnly: false };
const optionalComputed = { optional: true, computed: true, writeOnly: false };

test("GIVEN the fixture stack WHEN its schema is derived THEN every aws type is there with concrete types, and terraform_data is not", () => {
  const schema = deriveSchema(FIXTURE);
  expect(Object.keys(schema.resources)).toEqual(["aws_instance", "aws_ssm_parameter", "aws_subnet", "aws_vpc"]);
  expect(Object.keys(schema.dataSources)).toEqual(["aws_ami"]);
  expect(schema.provider.attributes).toEqual({ region: { type: "string", ...optional } });

  const instance = schema.resources.aws_instance.attributes;
  expect(Object.keys(instance)).not.toEqual(expect.arrayContaining(["count", "depends_on", "lifecycle", "//"]));
  expect(instance.tags).toEqual({ type: ["map", "string"], ...optional });
  expect(instance.user_data).toEqual({ type: "string", ...optional });
  expect(instance.metadata_options).toEqual({
    nested: {
      nesting: "SINGLE",
      attributes: {
        http_endpoint: { type: "string", ...optional },
        http_put_response_hop_limit: { type: "number", ...optional },
        http_tokens: { type: "string", ...optional },
      },
    },
    ...optional,
  });
  // Referenced by terraform_data (as [0]) and `id`: optional and computed.
  expect(instance.private_ip).toEqual({ type: "string", ...optionalComputed });
  expect(instance.id).toEqual({ type: "string", ...optionalComputed });

  const parameter = schema.resources.aws_ssm_parameter.attributes;
  expect(parameter.value_wo).toEqual({ type: "string", optional: true, computed: false, writeOnly: true });
  expect(parameter.value_wo_version).toEqual({ type: "number", ...optional });

  // Only referenced (an output): computed string.
  expect(schema.resources.aws_vpc.attributes.arn).toEqual({ type: "string", optional: false, computed: true, writeOnly: false });
  expect(schema.resources.aws_vpc.attributes.enable_dns_support).toEqual({ type: "bool", ...optional });

  const ami = schema.dataSources.aws_ami.attributes;
  expect(ami.owners).toEqual({ type: ["list", "string"], ...optional });
  expect(ami.filter.nested).toEqual({
    nesting: "LIST",
    attributes: { name: { type: "string", ...optional }, values: { type: ["list", "string"], ...optional } },
  });
  expect(ami.id).toEqual({ type: "string", ...optionalComputed });
});

test("GIVEN references in every form WHEN the schema is derived THEN each referenced attribute is computed on its own type", () => {
  const schema = deriveSchema({
    resource: {
      aws_iam_role: { "etcd_node1-key_role": { name_prefix: "n1-" } },
      aws_instance: { a: { count: 2, ami: "x" } },
    },
    data: { aws_caller_identity: { me: {} } },
    output: {
      o: {
        value: [
          "${aws_iam_role.etcd_node1-key_role.arn}",
          "${aws_instance.a[0].public_ip} ${aws_instance.a[*].private_dns} ${aws_instance.a.*.arn}",
          "${data.aws_caller_identity.me[0].account_id}-${data.aws_caller_identity.me.arn}",
        ],
      },
    },
  });
  expect(Object.keys(schema.resources.aws_iam_role.attributes)).toEqual(["arn", "id", "name_prefix"]);
  expect(Object.keys(schema.resources.aws_instance.attributes)).toEqual(["ami", "arn", "id", "private_dns", "public_ip"]);
  expect(Object.keys(schema.dataSources.aws_caller_identity.attributes)).toEqual(["account_id", "arn", "id"]);
  expect(schema.resources).not.toHaveProperty("aws_caller_identity");
});

test("GIVEN blocks of one type that disagree WHEN merged THEN the union holds every argument, structure beating template strings", () => {
  const schema = deriveSchema({
    resource: {
      aws_security_group: {
        a: { name: "a", ingress: "${local.rules}", tags: { Name: "a" }, port: 1 },
        b: { ingress: [{ from_port: 22, cidr_blocks: ["0.0.0.0/0"] }], tags: { "etcd:cluster": "x" }, port: "${var.port}" },
        c: { ingress: [{ description: "ssh" }] },
      },
    },
  });
  const sg = schema.resources.aws_security_group.attributes;
  expect(Object.keys(sg)).toEqual(["id", "ingress", "name", "port", "tags"]);
  expect(sg.port.type).toBe("string");
  expect(sg.tags.type).toEqual(["map", "string"]);
  expect(sg.ingress.nested).toEqual({
    nesting: "LIST",
    attributes: {
      cidr_blocks: { type: ["list", "string"], ...optional },
      description: { type: "string", ...optional },
      from_port: { type: "number", ...optional },
    },
  });
});

test("GIVEN a type that left the config but is in state WHEN derived with the state THEN it has a schema from the state's attributes", () => {
  const state = {
    version: 4,
    resources: [
      {
        mode: "managed",
        type: "aws_ssm_parameter",
        name: "p",
        provider: 'provider["registry.terraform.io/hashicorp/aws"]',
        instances: [{ attributes: { id: "p-1", name: "/x", value_wo: null, value_wo_version: 3, tags: { a: "b" } } }],
      },
      { mode: "managed", type: "terraform_data", name: "t", provider: 'provider["terraform.io/builtin/terraform"]', instances: [] },
    ],
  };
  expect(deriveSchema({}).resources).toEqual({});
  const schema = deriveSchema({}, state);
  expect(Object.keys(schema.resources)).toEqual(["aws_ssm_parameter"]);
  expect(schema.resources.aws_ssm_parameter.attributes).toEqual({
    id: { type: "string", ...optionalComputed },
    name: { type: "string", ...optionalComputed },
    tags: { type: ["map", "string"], ...optionalComputed },
    value_wo: { type: "string", optional: true, computed: false, writeOnly: true },
    value_wo_version: { type: "number", ...optionalComputed },
  });
});
