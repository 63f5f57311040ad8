import { decode, encode, ExtData } from "@msgpack/msgpack";
import { Attribute, AttributeType, BlockSchema, Value } from "./types";

/**
 * A value Terraform will know only after apply. It keeps the msgpack extension it arrived in: Terraform
 * compares a planned value with its config value byte for byte (refinements included), so an unknown config
 * value must be echoed back exactly, not as a fresh unrefined unknown.
 */
export class Unknown {
  constructor(readonly ext: ExtData = new ExtData(0, Uint8Array.of(0))) {}
}

/** A value as it crosses the wire: a Value that may hold unknowns. */
export type WireValue = null | string | number | boolean | Unknown | WireValue[] | { [k: string]: WireValue };
export type WireObject = { [k: string]: WireValue };

/** The DynamicValue message. */
export interface DynamicValue {
  readonly msgpack?: Uint8Array | null;
  readonly json?: Uint8Array | null;
}

/** Decodes a DynamicValue holding an object of `schema` (Terraform sends msgpack; JSON is the documented fallback). */
export function decodeObject(dv: DynamicValue | null | undefined, schema: BlockSchema): WireObject | null {
  let raw: unknown = null;
  if (dv?.msgpack && dv.msgpack.length > 0) raw = fromMsgpack(decode(dv.msgpack));
  else if (dv?.json && dv.json.length > 0) raw = JSON.parse(Buffer.from(dv.json).toString("utf8"));
  const value = conformObject(raw, schema.attributes, "");
  if (value instanceof Unknown) throw new Error("an unknown object where an object or null was expected");
  return value;
}

/**
 * Encodes an object of `schema` (or null) as a msgpack DynamicValue. Everything the provider sends back is a plan
 * or a state, so write-only attributes are sent as null, whatever the caller built.
 */
export function encodeObject(value: WireObject | null, schema: BlockSchema): { msgpack: Buffer } {
  // Conforming again guarantees exactly the schema's attributes, in the schema's types.
  const conformed = conformObject(value, schema.attributes, "");
  if (conformed && !(conformed instanceof Unknown)) {
    for (const [name, attribute] of Object.entries(schema.attributes)) if (attribute.writeOnly) conformed[name] = null;
  }
  return { msgpack: Buffer.from(encode(toMsgpack(conformed))) };
}

// Any extension code is an unknown; code 12 carries refinements that we keep opaque.
function fromMsgpack(v: unknown): unknown {
  if (v instanceof ExtData) return new Unknown(v);
  if (Array.isArray(v)) return v.map(fromMsgpack);
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fromMsgpack(x)]));
  return v;
}

function toMsgpack(v: WireValue): unknown {
  if (v instanceof Unknown) return v.ext;
  if (Array.isArray(v)) return v.map(toMsgpack);
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toMsgpack(x)]));
  if (typeof v === "number" && !Number.isFinite(v)) throw new Error(`${v} is not a Terraform number`);
  return v;
}

/**
 * Shapes a loosely typed value (decoded msgpack, state JSON, a handler's result) into an object of exactly the
 * given attributes: missing ones become null, others are dropped, scalars are converted as Terraform converts them.
 */
export function conformObject(v: unknown, attributes: Readonly<Record<string, Attribute>>, path: string): WireObject | null | Unknown {
  if (v === null || v === undefined) return null;
  if (v instanceof Unknown) return v;
  if (typeof v !== "object" || Array.isArray(v)) throw new Error(`${path || "value"}: expected an object, got ${describe(v)}`);
  const source = v as Record<string, unknown>;
  const out: WireObject = {};
  for (const [name, attribute] of Object.entries(attributes)) out[name] = conformAttribute(source[name], attribute, join(path, name));
  return out;
}

export function conformAttribute(v: unknown, attribute: Attribute, path: string): WireValue {
  const nested = attribute.nested;
  if (!nested) return conformType(v, attribute.type ?? "string", path);
  if (nested.nesting === "SINGLE") return conformObject(v, nested.attributes, path);
  if (v === null || v === undefined) return null;
  if (v instanceof Unknown) return v;
  if (!Array.isArray(v)) throw new Error(`${path}: expected a list of objects, got ${describe(v)}`);
  return v.map((item, i) => conformObject(item, nested.attributes, `${path}[${i}]`));
}

export function conformType(v: unknown, type: AttributeType, path: string): WireValue {
  if (v === null || v === undefined) return null;
  if (v instanceof Unknown) return v;
  if (type === "string") {
    if (typeof v === "string") return v;
    if (typeof v === "number" || typeof v === "boolean") return String(v);
  } else if (type === "number") {
    if (typeof v === "number") return v;
    // Terraform sends numbers too large for a float64 as decimal strings.
    if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
  } else if (type === "bool") {
    if (typeof v === "boolean") return v;
    if (v === "true" || v === "false") return v === "true";
  } else if (type[0] === "list") {
    if (Array.isArray(v)) return v.map((x, i) => conformType(x, type[1], `${path}[${i}]`));
  } else if (typeof v === "object" && !Array.isArray(v)) {
    return Object.fromEntries(Object.entries(v as object).map(([k, x]) => [k, conformType(x, type[1], `${path}["${k}"]`)]));
  }
  throw new Error(`${path}: expected ${JSON.stringify(type)}, got ${describe(v)}`);
}

function join(path: string, name: string): string {
  return path ? `${path}.${name}` : name;
}

function describe(v: unknown): string {
  return Array.isArray(v) ? "a list" : v === null ? "null" : typeof v === "object" ? "an object" : `${typeof v} ${JSON.stringify(v)}`;
}

/** Deep equality of wire values; an unknown equals nothing, since it may turn out to be anything. */
export function wireEqual(a: WireValue, b: WireValue): boolean {
  if (a instanceof Unknown || b instanceof Unknown) return false;
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return a === b;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => wireEqual(x, b[i]));
  }
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => k in b && wireEqual(a[k], b[k]));
}

export function hasUnknown(v: WireValue): boolean {
  if (v instanceof Unknown) return true;
  if (Array.isArray(v)) return v.some(hasUnknown);
  return v !== null && typeof v === "object" && Object.values(v).some(hasUnknown);
}

/** The handler view of an object: unknown attributes are omitted (and, in lists, which cannot omit, null). */
export function toHandlerObject(v: WireObject): Record<string, Value> {
  return toHandlerValue(v) as Record<string, Value>;
}

function toHandlerValue(v: WireValue): Value {
  if (v instanceof Unknown) return null;
  if (Array.isArray(v)) return v.map(toHandlerValue);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).flatMap(([k, x]) => (x instanceof Unknown ? [] : [[k, toHandlerValue(x)]])));
  }
  return v;
}
