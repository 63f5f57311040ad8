import type { Construct } from "constructs";

// cdktn checks each resource's features against the Terraform versions the project targets (the
// "targetVersions" context, default terraform >=1.5.7), and refuses the key parameters' write-only
// value_wo below 1.11. The stack already requires 1.11 (REQUIRED_TERRAFORM), so the cluster's own
// subtree says so. A project that declares targetVersions itself keeps them, and cdktn then names
// any conflict. cdktf has no such check and ignores the context.
const TARGET_VERSIONS_CONTEXT = "targetVersions";
const TARGETS = { terraform: ">=1.11.0", opentofu: ">=1.11.0" };

/** Call in the constructor, before any child is added (context cannot be set after). */
export function declareTargetVersions(scope: Construct): void {
  if (scope.node.tryGetContext(TARGET_VERSIONS_CONTEXT) === undefined) scope.node.setContext(TARGET_VERSIONS_CONTEXT, TARGETS);
}
