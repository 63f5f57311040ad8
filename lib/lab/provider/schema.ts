import { Attribute, AttributeType, BlockSchema, NestedType, ProviderSchema } from "./types";

/** The provider's local name: the types it serves are those named `aws_…`. */
const LOCAL_NAME = "aws";

/** Block keys Terraform (or cdktf) owns, which are no provider arguments. */
const META_ARGUMENTS = new Set(["count", "for_each", "depends_on", "lifecycle", "provisioner", "connection", "provider", "//"]);
const PROVIDER_META_ARGUMENTS = new Set(["alias", "version", "//"]);

/**
 * TYPE.NAME.ATTR, TYPE.NAME[i].ATTR, data.TYPE.NAME.ATTR, ... (also TYPE.NAME[*].ATTR and TYPE.NAME.*.ATTR).
 * The lookbehind keeps `data.aws_ami.x.id` from also reading as a resource `aws_ami`.
 */
const REFERENCE = /(?<![\w.-])(data\.)?([a-z][a-z0-9]*_[a-z0-9_]+)\.([A-Za-z_][\w-]*)(?:\[[^\]]*\]|\.\*)?\.([A-Za-z_][A-Za-z0-9_]*)/g;

/** Attribute names Terraform accepts in a provider schema; objects with other keys can only be maps. */
const ATTRIBUTE_NAME = /^[a-z0-9_]+$/;

/** What a value in config or state says about its attribute's type. */
type Shape =
  | { readonly kind: "primitive"; readonly type: "string" | "number" | "bool" }
  | { readonly kind: "list"; readonly of: "string" | "map" }
  | { readonly kind: "map"; readonly keys: ReadonlySet<string> }
  | { readonly kind: "nested"; readonly nesting: "SINGLE" | "LIST"; readonly attributes: ReadonlyMap<string, Shape> };

const STRING: Shape = { kind: "primitive", type: "string" };

interface Seen {
  shape?: Shape;
  inConfig: boolean;
  referenced: boolean;
  inState: boolean;
}

type TypeBuilder = Map<string, Seen>;

/**
 * Derives the provider schema from a synthesized stack (cdk.tf.json) and optionally its Terraform state: every
 * `aws_*` resource and data source type, and the provider block. Config arguments are optional; attributes that
 * are referenced somewhere (and `id`) are also computed, so plans leave them unknown until apply; attributes
 * seen only in state are kept (optional and computed) so that a type which left the config can still be destroyed.
 */
export function deriveSchema(cdkTfJson: object, tfstate?: object): ProviderSchema {
  const config = cdkTfJson as Record<string, unknown>;
  const resources = new Map<string, TypeBuilder>();
  const dataSources = new Map<string, TypeBuilder>();
  const provider: TypeBuilder = new Map();

  const builder = (map: Map<string, TypeBuilder>, type: string) => map.get(type) ?? map.set(type, new Map()).get(type)!;

  for (const [mode, map] of [
    ["resource", resources],
    ["data", dataSources],
  ] as const) {
    for (const [type, blocks] of Object.entries(asRecord(config[mode]))) {
      if (!isOurs(type)) continue;
      const b = builder(map, type);
      for (const block of Object.values(asRecord(blocks))) addBlock(b, block, META_ARGUMENTS);
    }
  }
  for (const block of asArray(asRecord(config.provider)[LOCAL_NAME])) addBlock(provider, block, PROVIDER_META_ARGUMENTS);

  forEachString(config, (s) => {
    for (const [, data, type, , attribute] of s.matchAll(REFERENCE)) {
      if (isOurs(type)) see(builder(data ? dataSources : resources, type), attribute).referenced = true;
    }
  });

  for (const resource of asArray(asRecord(tfstate).resources)) {
    const r = asRecord(resource);
    const type = String(r.type ?? "");
    // e.g. provider["registry.terraform.io/hashicorp/aws"], or with an alias after it
    const providerAddress = String(r.provider ?? "");
    if (!isOurs(type) && !providerAddress.includes(`/${LOCAL_NAME}"]`)) continue;
    const b = builder(r.mode === "data" ? dataSources : resources, type);
    for (const instance of asArray(r.instances)) {
      for (const [name, value] of Object.entries(asRecord(asRecord(instance).attributes))) {
        const seen = see(b, name);
        seen.inState = true;
        seen.shape = merge(seen.shape, shapeOf(value));
      }
    }
  }

  // Write-only arguments exist for managed resources only.
  const finish = (map: Map<string, TypeBuilder>, writeOnly: boolean) =>
    Object.fromEntries([...map].sort(([a], [b]) => a.localeCompare(b)).map(([type, b]) => [type, toBlock(withId(b), writeOnly)]));
  return { provider: toBlock(provider, false), resources: finish(resources, true), dataSources: finish(dataSources, false) };
}

function isOurs(type: string): boolean {
  return type.startsWith(`${LOCAL_NAME}_`);
}

function addBlock(b: TypeBuilder, block: unknown, meta: ReadonlySet<string>): void {
  for (const [name, value] of Object.entries(asRecord(block))) {
    if (meta.has(name)) continue;
    const seen = see(b, name);
    seen.inConfig = true;
    seen.shape = merge(seen.shape, shapeOf(value));
  }
}

function see(b: TypeBuilder, name: string): Seen {
  return b.get(name) ?? b.set(name, { inConfig: false, referenced: false, inState: false }).get(name)!;
}

function withId(b: TypeBuilder): TypeBuilder {
  see(b, "id").referenced = true;
  return b;
}

function shapeOf(v: unknown): Shape | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === "string") return { kind: "primitive", type: "string" };
  if (typeof v === "number") return { kind: "primitive", type: "number" };
  if (typeof v === "boolean") return { kind: "primitive", type: "bool" };
  if (Array.isArray(v)) {
    const objects = v.filter(isPlainObject);
    if (objects.length === 0 || objects.length < v.filter((x) => x !== null).length) return { kind: "list", of: "string" };
    const element = objects.map(shapeOf).reduce(merge);
    if (element?.kind === "nested") return { ...element, nesting: "LIST" };
    // Objects of strings only: still a list of nested objects when their keys can be attribute names.
    if (element?.kind === "map" && [...element.keys].every((k) => ATTRIBUTE_NAME.test(k))) {
      return { kind: "nested", nesting: "LIST", attributes: new Map([...element.keys].map((k) => [k, STRING])) };
    }
    return { kind: "list", of: "map" };
  }
  const entries = Object.entries(v as object);
  const keys = new Set(entries.map(([k]) => k));
  // All-string objects (tags) are maps; so are objects whose keys could not be attribute names.
  if (entries.every(([, x]) => typeof x === "string" || x === null) || ![...keys].every((k) => ATTRIBUTE_NAME.test(k))) {
    return { kind: "map", keys };
  }
  const attributes = new Map<string, Shape>();
  for (const [k, x] of entries) attributes.set(k, shapeOf(x) ?? STRING);
  return { kind: "nested", nesting: "SINGLE", attributes };
}

/** The union of two blocks' views of one attribute: structure beats a string (a `${…}` may yield anything). */
function merge(a: Shape | undefined, b: Shape | undefined): Shape | undefined {
  if (!a || !b) return a ?? b;
  if (a.kind === "primitive" && b.kind === "primitive") return a.type === b.type ? a : STRING;
  if (a.kind === "primitive") return b;
  if (b.kind === "primitive") return a;
  if (a.kind === "nested" && b.kind === "nested") {
    const attributes = new Map(a.attributes);
    for (const [k, s] of b.attributes) attributes.set(k, merge(attributes.get(k), s)!);
    return { kind: "nested", nesting: a.nesting === b.nesting ? a.nesting : "LIST", attributes };
  }
  if (a.kind === "map" && b.kind === "map") return { kind: "map", keys: new Set([...a.keys, ...b.keys]) };
  const [nested, other] = a.kind === "nested" ? [a, b] : b.kind === "nested" ? [b, a] : [undefined, a];
  if (!nested) return a; // a list and a map: no sensible union; the first wins
  if (other.kind === "map" && [...other.keys].every((k) => ATTRIBUTE_NAME.test(k))) {
    const attributes = new Map(nested.attributes);
    for (const k of other.keys) if (!attributes.has(k)) attributes.set(k, STRING);
    return { ...nested, attributes };
  }
  return other.kind === "list" && nested.nesting === "LIST" ? nested : other;
}

function toBlock(b: TypeBuilder, allowWriteOnly: boolean): BlockSchema {
  const attributes: Record<string, Attribute> = {};
  for (const [name, seen] of [...b].sort(([x], [y]) => x.localeCompare(y))) {
    const writeOnly = allowWriteOnly && name.endsWith("_wo");
    const typed = toTyped(seen.shape);
    if (writeOnly) attributes[name] = { ...typed, optional: true, computed: false, writeOnly: true };
    else if (seen.inConfig) attributes[name] = { ...typed, optional: true, computed: seen.referenced, writeOnly: false };
    else if (seen.inState) attributes[name] = { ...typed, optional: true, computed: true, writeOnly: false };
    else attributes[name] = { ...typed, optional: name === "id", computed: true, writeOnly: false };
  }
  return { attributes };
}

function toTyped(shape: Shape | undefined): { type?: AttributeType; nested?: NestedType } {
  if (!shape) return { type: "string" };
  switch (shape.kind) {
    case "primitive":
      return { type: shape.type };
    case "list":
      return { type: ["list", shape.of === "map" ? ["map", "string"] : "string"] };
    case "map":
      return { type: ["map", "string"] };
    case "nested": {
      const attributes: Record<string, Attribute> = {};
      for (const [name, s] of [...shape.attributes].sort(([x], [y]) => x.localeCompare(y))) {
        attributes[name] = { ...toTyped(s), optional: true, computed: false, writeOnly: false };
      }
      return { nested: { nesting: shape.nesting, attributes } };
    }
  }
}

function forEachString(v: unknown, f: (s: string) => void): void {
  if (typeof v === "string") f(v);
  else if (Array.isArray(v)) v.forEach((x) => forEachString(x, f));
  else if (isPlainObject(v)) Object.values(v).forEach((x) => forEachString(x, f));
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function asRecord(v: unknown): Record<string, unknown> {
  return isPlainObject(v) ? v : {};
}

function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : v === undefined || v === null ? [] : [v];
}

/** The schema as protocol-6 Schema messages, in the shape the protobuf loader takes. */
export function schemaToProto(schema: BlockSchema): object {
  return { version: 0, block: { version: 0, attributes: attributesToProto(schema.attributes), block_types: [] } };
}

function attributesToProto(attributes: Readonly<Record<string, Attribute>>): object[] {
  return Object.entries(attributes).map(([name, a]) => ({
    name,
    type: a.type ? Buffer.from(JSON.stringify(a.type)) : Buffer.alloc(0),
    nested_type: a.nested ? { attributes: attributesToProto(a.nested.attributes), nesting: a.nested.nesting } : null,
    optional: a.optional,
    computed: a.computed,
    write_only: a.writeOnly,
  }));
}
