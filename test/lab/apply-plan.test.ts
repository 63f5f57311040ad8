import { AppliedResource, dependencyOrder, planApply } from "../../lib/lab/apply-plan";
import { StackResource } from "../../lib/lab/stack-resources";

function resource(address: string, dependsOn: string[] = [], exists = true): StackResource {
  return { address, type: address.split(".")[0], exists, dependsOn, onCreate: [], onDestroy: [] };
}
const applied = (dependsOn: string[] = [], extra: Partial<AppliedResource> = {}): AppliedResource => ({
  type: "terraform_data",
  dependsOn,
  ...extra,
});

test("creates what is new, destroys what is gone or count 0, leaves the rest", () => {
  // GIVEN a state of a, b, c and a stack keeping a, dropping b's block, setting c to count 0 and adding d
  const state = { "t.a": applied(), "t.b": applied(), "t.c": applied() };
  const stack = new Map([resource("t.a"), resource("t.c", [], false), resource("t.d", ["t.a"])].map((r) => [r.address, r]));

  // THEN the plan is: create d, destroy b and c, a unchanged
  expect(planApply(state, stack)).toEqual({
    create: ["t.d"],
    destroy: expect.arrayContaining(["t.b", "t.c"]),
    replace: [],
    unchanged: ["t.a"],
  });
});

test("creates in dependency order and destroys in reverse, dependents first", () => {
  // GIVEN register <- instance <- member, listed in the opposite order
  const stack = new Map(
    [resource("m.member", ["i.instance"]), resource("i.instance", ["r.register"]), resource("r.register")].map((r) => [r.address, r])
  );

  // THEN from an empty state they are created register, instance, member
  expect(planApply({}, stack).create).toEqual(["r.register", "i.instance", "m.member"]);
  // AND when all three go (count 0), the order recorded in the state is reversed: member, instance, register
  const state = { "m.member": applied(["i.instance"]), "i.instance": applied(["r.register"]), "r.register": applied() };
  const gone = new Map([...stack.values()].map((r) => [r.address, { ...r, exists: false }]));
  expect(planApply(state, gone).destroy).toEqual(["m.member", "i.instance", "r.register"]);
});

test("a tainted resource is replaced", () => {
  const plan = planApply({ "t.a": applied([], { tainted: true }) }, new Map([["t.a", resource("t.a")]]));
  expect(plan).toMatchObject({ create: ["t.a"], replace: ["t.a"], unchanged: [], destroy: [] });
});

test("a dependency cycle is refused, naming it", () => {
  expect(() => dependencyOrder(["a", "b"], (n) => (n === "a" ? ["b"] : ["a"]))).toThrow("dependency cycle: a -> b -> a");
});
