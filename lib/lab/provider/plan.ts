import { BlockSchema, Value } from "./types";
import { conformAttribute, Unknown, WireObject, WireValue, wireEqual } from "./values";

/** An argument whose change replaces the resource, possibly only under a condition on the planned state. */
export type ForceNewRule = string | { readonly attribute: string; readonly when: (planned: WireObject, prior: WireObject) => boolean };

/**
 * Arguments whose change the real AWS provider answers with a replacement (ForceNew), by resource type.
 * Types not listed update everything in place. Extend as the stacks grow.
 */
export const FORCE_NEW: Readonly<Record<string, readonly ForceNewRule[]>> = {
  aws_instance: [
    "ami",
    "availability_zone",
    "private_ip",
    "subnet_id",
    "key_name",
    { attribute: "user_data", when: (planned) => planned.user_data_replace_on_change === true },
    // Size, type, IOPS, throughput and tags of the root volume change in place; its encryption does not.
    { attribute: "root_block_device", when: (planned, prior) => rootVolumeEncryptionChanged(planned, prior) },
  ],
  aws_ebs_volume: ["availability_zone"],
  aws_volume_attachment: ["device_name", "instance_id", "volume_id"],
  aws_ssm_parameter: ["name"],
  aws_vpc: ["cidr_block"],
  aws_subnet: ["cidr_block", "vpc_id", "availability_zone"],
  aws_security_group: ["name", "vpc_id", "description"],
  aws_iam_role: ["name"],
  aws_iam_instance_profile: ["name"],
  aws_iam_role_policy: ["name", "role"],
  aws_route_table_association: ["subnet_id", "route_table_id"],
  aws_internet_gateway: [],
};

function rootVolumeEncryptionChanged(planned: WireObject, prior: WireObject): boolean {
  const device = (state: WireObject) => {
    const block = Array.isArray(state.root_block_device) ? state.root_block_device[0] : null;
    const fields = block !== null && typeof block === "object" && !Array.isArray(block) ? (block as WireObject) : {};
    return [fields.encrypted ?? null, fields.kms_key_id ?? null];
  };
  const [before, after] = [device(prior), device(planned)];
  return before.some((value, i) => !(value === null || after[i] === null || wireEqual(value, after[i])));
}

export interface PlanRequest {
  readonly type: string;
  readonly schema: BlockSchema;
  readonly prior: WireObject | null;
  /** Terraform's proposed new state; null when the resource is to be destroyed. */
  readonly proposed: WireObject | null;
  readonly config: WireObject | null;
  readonly forceNew?: Readonly<Record<string, readonly ForceNewRule[]>>;
}

export interface Plan {
  readonly planned: WireObject | null;
  /** Top-level attribute names whose change requires replacement. */
  readonly requiresReplace: readonly string[];
}

/**
 * The provider's half of planning. Terraform has already applied ignore_changes to `config` and will itself
 * turn a requires_replace answer into delete+create (asking again with a null prior), and decide "no change"
 * when planned equals prior, so an unchanged resource must be planned as exactly its prior state.
 */
export function planResourceChange(req: PlanRequest): Plan {
  const { schema, prior, proposed, config } = req;
  if (proposed === null || config === null) return { planned: null, requiresReplace: [] };

  const planned: WireObject = {};
  for (const [name, attribute] of Object.entries(schema.attributes)) {
    const configured = config[name] ?? null;
    if (attribute.writeOnly) planned[name] = null;
    else if (configured !== null) planned[name] = configured;
    else if (!attribute.computed) planned[name] = null;
    else planned[name] = prior ? prior[name] ?? null : new Unknown();
  }
  if (!prior) return { planned, requiresReplace: [] };

  const rules = (req.forceNew ?? FORCE_NEW)[req.type] ?? [];
  const requiresReplace = rules.flatMap((rule) => {
    const [name, applies] = typeof rule === "string" ? [rule, true] : [rule.attribute, rule.when(planned, prior)];
    return applies && name in schema.attributes && !wireEqual(prior[name] ?? null, planned[name] ?? null) ? [name] : [];
  });
  return { planned, requiresReplace };
}

/**
 * The new state after create/update: the plan, with each unknown attribute taken from what the handler returned
 * (converted to the attribute's type) or null. Known planned values stay as planned: Terraform rejects a result
 * that differs from them.
 */
export function resolvePlanned(planned: WireObject, returned: Record<string, Value>, schema: BlockSchema): WireObject {
  const out: WireObject = {};
  for (const [name, value] of Object.entries(planned)) {
    const attribute = schema.attributes[name];
    if (value instanceof Unknown && attribute) out[name] = resolveUnknowns(conformAttribute(returned[name] ?? null, attribute, name));
    else out[name] = resolveUnknowns(value);
  }
  return out;
}

// An apply result must be wholly known.
function resolveUnknowns(v: WireValue): WireValue {
  if (v instanceof Unknown) return null;
  if (Array.isArray(v)) return v.map(resolveUnknowns);
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolveUnknowns(x)]));
  return v;
}
