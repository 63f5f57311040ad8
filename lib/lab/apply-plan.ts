import { StackResource } from "./stack-resources";

/** What the lab's state remembers of a resource it created, as Terraform's state does. */
export interface AppliedResource {
  readonly type: string;
  /** Its dependencies when it was created: the order to destroy it in, once its block is gone. */
  readonly dependsOn: string[];
  /** The member an `aws_instance` runs. */
  readonly member?: string;
  /** A creation-time provisioner failed: the next apply replaces it, without its destroy provisioners. */
  readonly tainted?: boolean;
}

export interface ApplyPlan {
  /** Resources to create, each listed after what it depends on. */
  readonly create: string[];
  /** Resources to destroy, each listed before what it depends on. */
  readonly destroy: string[];
  /** Tainted resources: destroyed (without provisioners) and created again. */
  readonly replace: string[];
  readonly unchanged: string[];
}

/**
 * Compares the lab's state with a synthesized stack as `terraform plan` would for this lab: a
 * resource that exists in the stack (count != 0) and not in the state is created, one in the state
 * that is gone from the stack or has count 0 is destroyed, and the others are left alone (the lab
 * models no in-place updates).
 */
export function planApply(state: Record<string, AppliedResource>, stack: Map<string, StackResource>): ApplyPlan {
  const wanted = [...stack.values()].filter((r) => r.exists).map((r) => r.address);
  const replace = wanted.filter((a) => state[a]?.tainted);
  const create = wanted.filter((a) => !state[a] || state[a].tainted);
  const destroy = Object.keys(state).filter((a) => !stack.get(a)?.exists);
  const unchanged = wanted.filter((a) => state[a] && !state[a].tainted);
  const createDeps = (a: string) => stack.get(a)!.dependsOn;
  // Terraform destroys in the order it recorded; a block still in the stack may name newer dependencies.
  const destroyDeps = (a: string) => [...state[a].dependsOn, ...(stack.get(a)?.dependsOn ?? [])];
  return {
    create: dependencyOrder(create, createDeps),
    destroy: dependencyOrder(destroy, destroyDeps).reverse(),
    replace,
    unchanged,
  };
}

/** The nodes in an order where each follows its dependencies; ties keep the given order. */
export function dependencyOrder(nodes: string[], dependencies: (node: string) => readonly string[]): string[] {
  const inSet = new Set(nodes);
  const ordered: string[] = [];
  const done = new Set<string>();
  const visit = (node: string, path: string[]): void => {
    if (done.has(node)) return;
    if (path.includes(node)) throw new Error(`dependency cycle: ${[...path, node].join(" -> ")}`);
    for (const d of dependencies(node)) if (inSet.has(d)) visit(d, [...path, node]);
    done.add(node);
    ordered.push(node);
  };
  nodes.forEach((n) => visit(n, []));
  return ordered;
}
