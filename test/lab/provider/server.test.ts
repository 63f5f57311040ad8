import * as grpc from "@grpc/grpc-js";
import { decode, encode, ExtData } from "@msgpack/msgpack";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deriveSchema, ProviderHandlers, ProviderServer, startProviderServer } from "../../../lib/lab/provider";
import { protocolServices } from "../../../lib/lab/provider/protocol";

// The protocol surface Terraform does not exercise on demand (StopProvider, concurrency, failures), driven
// directly over gRPC as Terraform's client would.

type Message = Record<string, any>;
type Rpc = (request: Message) => Promise<Message>;

const SCHEMA = deriveSchema({
  resource: { aws_instance: { a: { ami: "ami-1", tags: { Name: "a" } } }, aws_vpc: { v: { cidr_block: "10.0.0.0/16", id: "x" } } },
  output: { o: { value: "${aws_instance.a.arn}" } },
});

let dir: string;
let server: ProviderServer;
let client: grpc.Client;
let handlers: ProviderHandlers;

const base: ProviderHandlers = {
  create: async () => ({}),
  update: async () => ({}),
  delete: async () => undefined,
  readData: async () => ({}),
};

function rpc(name: string): Rpc {
  const method = protocolServices().provider[name];
  return (request) =>
    new Promise((resolve, reject) =>
      client.makeUnaryRequest(method.path, method.requestSerialize, method.responseDeserialize, request, (error, response) =>
        error ? reject(error) : resolve(response as Message)
      )
    );
}

const dynamic = (v: unknown) => ({ msgpack: Buffer.from(encode(v)) });
const UNKNOWN = new ExtData(0, Uint8Array.of(0));
const create = (type: string, config: Message) =>
  rpc("ApplyResourceChange")({
    type_name: type,
    prior_state: dynamic(null),
    planned_state: dynamic({ ...config, id: UNKNOWN }),
    config: dynamic(config),
  });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tf-provider-server-"));
  // Each test sets `handlers`; the server calls through to whichever is current.
  const through: ProviderHandlers = {
    create: (r) => handlers.create(r),
    update: (r) => handlers.update(r),
    delete: (r) => handlers.delete(r),
    readData: (r) => handlers.readData(r),
    read: (r) => (handlers.read ? handlers.read(r) : Promise.resolve(r.state)),
  };
  server = await startProviderServer({ socketPath: join(dir, "aws.sock"), schema: SCHEMA, handlers: through });
  client = new grpc.Client(`unix:${server.socketPath}`, grpc.credentials.createInsecure());
});

afterAll(async () => {
  client?.close();
  await server?.close();
  expect(existsSync(join(dir, "aws.sock"))).toBe(false);
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => (handlers = { ...base }));

test("GIVEN a server WHEN asked for reattach THEN it is go-plugin's JSON for protocol 6 over the unix socket", () => {
  expect(JSON.parse(server.reattach)).toEqual({
    "registry.terraform.io/hashicorp/aws": {
      Protocol: "grpc",
      ProtocolVersion: 6,
      Pid: process.pid,
      Test: true,
      Addr: { Network: "unix", String: join(dir, "aws.sock") },
    },
  });
  expect(server.pid).toBe(process.pid);
});

test("GIVEN the derived schema WHEN GetProviderSchema is called THEN attributes carry JSON types and flags", async () => {
  const response = await rpc("GetProviderSchema")({});
  expect(Object.keys(response.resource_schemas)).toEqual(["aws_instance", "aws_vpc"]);
  const attributes = Object.fromEntries(
    response.resource_schemas.aws_instance.block.attributes.map((a: Message) => [a.name, [a.type.toString(), a.optional, a.computed]])
  );
  expect(attributes).toEqual({
    ami: ['"string"', true, false],
    arn: ['"string"', false, true],
    id: ['"string"', true, true],
    tags: ['["map","string"]', true, false],
  });
  expect(response.server_capabilities.plan_destroy).toBe(true);
  expect(await rpc("GetFunctions")({})).toMatchObject({ functions: {}, diagnostics: [] });
});

test("GIVEN two creates whose handlers wait for each other WHEN called together THEN both complete (RPCs run concurrently)", async () => {
  let arrived = 0;
  let release: () => void = () => undefined;
  const both = new Promise<void>((r) => (release = r));
  handlers.create = async ({ config }) => {
    if (++arrived === 2) release();
    await both;
    return { id: `i-${config.ami}` };
  };
  const [a, b] = await Promise.all([create("aws_instance", { ami: "a" }), create("aws_instance", { ami: "b" })]);
  expect(decode(a.new_state.msgpack)).toMatchObject({ id: "i-a", ami: "a" });
  expect(decode(b.new_state.msgpack)).toMatchObject({ id: "i-b", ami: "b" });
});

test("GIVEN an in-flight create WHEN Terraform calls StopProvider THEN its signal aborts, the error is a diagnostic, and later calls get a fresh signal", async () => {
  let started: () => void = () => undefined;
  const inFlight = new Promise<void>((r) => (started = r));
  handlers.create = ({ signal }) =>
    new Promise((_, reject) => {
      started();
      signal.addEventListener("abort", () => reject(signal.reason));
    });
  const pending = create("aws_instance", { ami: "a" });
  await inFlight;
  expect(await rpc("StopProvider")({})).toEqual({ Error: "" });
  const response = await pending;
  expect(response.diagnostics).toMatchObject([{ severity: "ERROR", summary: "Terraform asked the provider to stop" }]);

  handlers.create = async ({ signal }) => ({ id: signal.aborted ? "aborted" : "fresh" });
  expect(decode((await create("aws_instance", { ami: "a" })).new_state.msgpack)).toMatchObject({ id: "fresh" });
});

test("GIVEN a handler that throws a multi-line error WHEN applied THEN Terraform gets its first line as summary, the rest as detail", async () => {
  handlers.delete = async () => {
    throw new Error("could not terminate i-1\nthe VM did not stop\nin 30s");
  };
  const response = await rpc("ApplyResourceChange")({
    type_name: "aws_instance",
    prior_state: dynamic({ id: "i-1" }),
    planned_state: dynamic(null),
    config: dynamic(null),
  });
  expect(response.diagnostics).toMatchObject([
    { severity: "ERROR", summary: "could not terminate i-1", detail: "the VM did not stop\nin 30s" },
  ]);
});

test("GIVEN a state written under an older schema WHEN UpgradeResourceState is called THEN missing attributes are null and unknown ones dropped", async () => {
  const response = await rpc("UpgradeResourceState")({
    type_name: "aws_vpc",
    version: 0,
    raw_state: { json: Buffer.from(JSON.stringify({ id: "vpc-1", gone: "x" })) },
  });
  expect(decode(response.upgraded_state.msgpack)).toEqual({ id: "vpc-1", cidr_block: null });
});

test("GIVEN a read handler WHEN ReadResource is called THEN null means gone and a partial result updates the state", async () => {
  const read = (state: Message) => rpc("ReadResource")({ type_name: "aws_vpc", current_state: dynamic(state) });
  handlers.read = async ({ state }) => (state.id === "vpc-gone" ? null : { cidr_block: "10.1.0.0/16" });
  expect(decode((await read({ id: "vpc-gone" })).new_state.msgpack)).toBeNull();
  expect(decode((await read({ id: "vpc-1", cidr_block: "10.0.0.0/16" })).new_state.msgpack)).toEqual({
    id: "vpc-1",
    cidr_block: "10.1.0.0/16",
  });
});

test("GIVEN RPCs the provider does not serve WHEN called THEN they answer with error diagnostics, not transport errors", async () => {
  expect((await rpc("ImportResourceState")({ type_name: "aws_vpc", id: "vpc-1" })).diagnostics[0].summary).toMatch(
    /import is not supported/
  );
  expect((await rpc("MoveResourceState")({})).diagnostics[0].summary).toMatch(/does not implement MoveResourceState/);
  expect((await rpc("OpenEphemeralResource")({})).diagnostics[0].severity).toBe("ERROR");
  expect((await rpc("CallFunction")({})).error.text).toMatch(/does not implement CallFunction/);
  expect((await rpc("PlanResourceChange")({ type_name: "aws_nope" })).diagnostics[0].summary).toMatch(/no resource type "aws_nope"/);
});
