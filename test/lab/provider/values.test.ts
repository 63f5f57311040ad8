import { decode, encode, ExtData } from "@msgpack/msgpack";
import { BlockSchema } from "../../../lib/lab/provider";
import { decodeObject, encodeObject, toHandlerObject, Unknown, wireEqual } from "../../../lib/lab/provider/values";

const SCHEMA: BlockSchema = {
  attributes: {
    id: { type: "string", optional: true, computed: true, writeOnly: false },
    count: { type: "number", optional: true, computed: false, writeOnly: false },
    on: { type: "bool", optional: true, computed: false, writeOnly: false },
    names: { type: ["list", "string"], optional: true, computed: false, writeOnly: false },
    tags: { type: ["map", "string"], optional: true, computed: false, writeOnly: false },
    secret_wo: { type: "string", optional: true, computed: false, writeOnly: true },
    disk: {
      nested: { nesting: "SINGLE", attributes: { size: { type: "number", optional: true, computed: false, writeOnly: false } } },
      optional: true,
      computed: false,
      writeOnly: false,
    },
  },
};

const msgpack = (v: unknown) => ({ msgpack: Buffer.from(encode(v)) });

test("GIVEN msgpack from Terraform with a number as a string and a missing attribute WHEN decoded THEN it conforms to the schema", () => {
  const value = decodeObject(msgpack({ count: "148095251894693", on: true, names: ["a"], extra: 1 }), SCHEMA);
  expect(value).toEqual({ id: null, count: 148095251894693, on: true, names: ["a"], tags: null, secret_wo: null, disk: null });
});

test("GIVEN an unknown with refinements (extension 12) WHEN decoded and encoded again THEN its bytes are kept, as Terraform compares them raw", () => {
  const refined = new ExtData(12, Uint8Array.from(encode({ 1: false, 2: "subnet-" })));
  const value = decodeObject(msgpack({ id: refined, tags: { a: new ExtData(0, Uint8Array.of(0)) } }), SCHEMA)!;
  expect(value.id).toBeInstanceOf(Unknown);
  const again = decode(encodeObject(value, SCHEMA).msgpack) as Record<string, ExtData & Record<string, ExtData>>;
  const bytes = (ext: ExtData) => [ext.type, Buffer.from(ext.data as Uint8Array)];
  expect(bytes(again.id)).toEqual(bytes(refined));
  expect(bytes(again.tags.a)).toEqual([0, Buffer.of(0)]);
});

test("GIVEN a fresh unknown WHEN encoded THEN it is the unrefined extension 0 that cty writes", () => {
  const bytes = encodeObject({ id: new Unknown() }, SCHEMA).msgpack;
  // fixext1, type 0, payload 0
  expect(bytes.includes(Buffer.from([0xa2, 0x69, 0x64, 0xd4, 0x00, 0x00]))).toBe(true);
});

test("GIVEN a state with a write-only value WHEN encoded THEN the write-only attribute is sent as null", () => {
  const bytes = encodeObject({ secret_wo: "hunter2", count: 1.5 }, SCHEMA).msgpack;
  expect(decode(bytes)).toMatchObject({ secret_wo: null, count: 1.5 });
});

test("GIVEN the JSON fallback and an absent value WHEN decoded THEN JSON is read and absence is null", () => {
  expect(decodeObject({ json: Buffer.from('{"disk":{"size":"20"}}') }, SCHEMA)).toMatchObject({ disk: { size: 20 } });
  expect(decodeObject(null, SCHEMA)).toBeNull();
  expect(decodeObject(msgpack(null), SCHEMA)).toBeNull();
});

test("GIVEN a value of the wrong shape WHEN decoded THEN the error names the attribute", () => {
  expect(() => decodeObject(msgpack({ disk: [1] }), SCHEMA)).toThrow("disk: expected an object, got a list");
  expect(() => decodeObject(msgpack({ count: "many" }), SCHEMA)).toThrow('count: expected "number", got string "many"');
});

test("GIVEN values with unknowns WHEN handed to a handler THEN unknown attributes are absent, and unknowns equal nothing", () => {
  expect(toHandlerObject({ id: new Unknown(), names: ["a", new Unknown()], tags: { k: "v" } })).toEqual({
    names: ["a", null],
    tags: { k: "v" },
  });
  expect(wireEqual(new Unknown(), new Unknown())).toBe(false);
  expect(wireEqual({ a: [1, { b: null }] }, { a: [1, { b: null }] })).toBe(true);
  expect(wireEqual({ a: 1 }, { a: 1, b: null })).toBe(false);
});
