import type { Construct, Node } from "constructs";
import { TerraformStack, type TerraformResource } from "./cdktf";

/**
 * The logical id the stack gives (or gave) a construct at `path` below `scope`, under the stack's
 * own naming scheme: what a resource's address was before a refactoring moved it.
 */
export function logicalIdAt(scope: Construct, path: readonly string[]): string {
  const child = { scopes: [...scope.node.scopes, ...path.map((id) => ({ node: { id } }))] } as unknown as Node;
  return TerraformStack.of(scope).getLogicalId(child);
}

/** A `moved` block from the resource's old address (at `path` below `scope`) to its current one. */
export function moveFrom(resource: TerraformResource, scope: Construct, path: readonly string[]): void {
  resource.moveFromId(`${resource.terraformResourceType}.${logicalIdAt(scope, path)}`);
}
