import { BlockSchema } from "../../../lib/lab/provider";
import { planResourceChange, resolvePlanned } from "../../../lib/lab/provider/plan";
import { Unknown, WireObject } from "../../../lib/lab/provider/values";

const SCHEMA: BlockSchema = {
  attributes: {
    id: { type: "string", optional: true, computed: true, writeOnly: false },
    arn: { type: "string", optional: false, computed: true, writeOnly: false },
    ami: { type: "string", optional: true, computed: false, writeOnly: false },
    private_ip: { type: "string", optional: true, computed: true, writeOnly: false },
    tags: { type: ["map", "string"], optional: true, computed: false, writeOnly: false },
    user_data: { type: "string", optional: true, computed: false, writeOnly: false },
    user_data_replace_on_change: { type: "bool", optional: true, computed: false, writeOnly: false },
    password_wo: { type: "string", optional: true, computed: false, writeOnly: true },
  },
};

const config = (o: WireObject): WireObject => ({ ...Object.fromEntries(Object.keys(SCHEMA.attributes).map((k) => [k, null])), ...o });
const plan = (prior: WireObject | null, cfg: WireObject | null) =>
  planResourceChange({ type: "aws_instance", schema: SCHEMA, prior, proposed: cfg, config: cfg });

const PRIOR = config({ id: "i-1", arn: "arn:1", ami: "ami-1", private_ip: "10.0.0.5", tags: { Name: "a" }, user_data: "u1" });

test("GIVEN a new resource WHEN planned THEN config is kept, computed nulls are unknown and write-only is null", () => {
  const { planned, requiresReplace } = plan(null, config({ ami: "ami-1", password_wo: "secret", private_ip: "10.0.0.5" }));
  expect(planned!.id).toBeInstanceOf(Unknown);
  expect(planned!.arn).toBeInstanceOf(Unknown);
  expect(planned).toMatchObject({ ami: "ami-1", private_ip: "10.0.0.5", password_wo: null, tags: null });
  expect(requiresReplace).toEqual([]);
});

test("GIVEN an unknown config value WHEN planned THEN the very same unknown (refinements and all) is planned", () => {
  const unknown = new Unknown();
  expect(plan(null, config({ ami: unknown })).planned!.ami).toBe(unknown);
});

test("GIVEN an unchanged config WHEN planned THEN the plan is exactly the prior state (no change)", () => {
  const { planned, requiresReplace } = plan(PRIOR, config({ ami: "ami-1", tags: { Name: "a" }, user_data: "u1", password_wo: "again" }));
  expect(planned).toEqual({ ...PRIOR, private_ip: "10.0.0.5" });
  expect(requiresReplace).toEqual([]);
});

test("GIVEN a changed tag WHEN planned THEN it is an in-place update keeping computed values", () => {
  const { planned, requiresReplace } = plan(PRIOR, config({ ami: "ami-1", tags: { Name: "b" }, user_data: "u1" }));
  expect(planned).toMatchObject({ id: "i-1", arn: "arn:1", tags: { Name: "b" } });
  expect(requiresReplace).toEqual([]);
});

test("GIVEN changed force-new arguments WHEN planned THEN they are reported as requiring replacement", () => {
  expect(plan(PRIOR, config({ ami: "ami-2", private_ip: "10.0.0.6", user_data: "u1" })).requiresReplace).toEqual(["ami", "private_ip"]);
  expect(plan(PRIOR, config({ ami: "ami-1", private_ip: new Unknown(), user_data: "u1" })).requiresReplace).toEqual(["private_ip"]);
});

test("GIVEN changed user_data WHEN planned THEN it replaces only with user_data_replace_on_change", () => {
  expect(plan(PRIOR, config({ ami: "ami-1", user_data: "u2" })).requiresReplace).toEqual([]);
  expect(plan(PRIOR, config({ ami: "ami-1", user_data: "u2", user_data_replace_on_change: true })).requiresReplace).toEqual(["user_data"]);
});

test("GIVEN a destroy WHEN planned THEN the plan is null", () => {
  expect(plan(PRIOR, null)).toEqual({ planned: null, requiresReplace: [] });
});

test("GIVEN a handler's result WHEN the plan is resolved THEN only unknowns take its values, converted, and the rest become null", () => {
  const planned = { ...config({ ami: "ami-1" }), id: new Unknown(), arn: new Unknown(), private_ip: new Unknown() };
  const state = resolvePlanned(planned, { id: "i-9", ami: "ignored", private_ip: 10 }, SCHEMA);
  expect(state).toMatchObject({ id: "i-9", ami: "ami-1", arn: null, private_ip: "10" });
});
