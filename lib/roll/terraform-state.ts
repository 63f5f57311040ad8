import { unescapeTemplate } from "../terraform-string";

// What the roll reads of Terraform's state: `terraform show -json`, which every backend gives the
// same way (a local state file, S3, Terraform Cloud).

/** One resource instance of `terraform show -json`'s values.root_module.resources. */
export interface StateResource {
  /** aws_instance.x[0], data.aws_ami.x */
  readonly address: string;
  readonly mode: "managed" | "data";
  readonly type: string;
  readonly name: string;
  readonly index?: number | string;
  readonly values: Record<string, unknown>;
}

export interface ShownState {
  readonly values?: { readonly root_module?: { readonly resources?: readonly StateResource[] } };
}

export function stateResources(state: ShownState): readonly StateResource[] {
  return state.values?.root_module?.resources ?? [];
}

// ${type.name.attr}, ${type.name[0].attr}, ${data.type.name.attr}: the references cdktf writes
// (and never $${, Terraform's escape for a literal "${").
const REFERENCE = /(?<!\$)\$\{(data\.)?([a-z][a-z0-9_]*)\.([A-Za-z0-9_-]+)(?:\[(\d+)\])?\.([a-z0-9_]+)\}/g;

/**
 * `text` (a string as cdk.tf.json holds it) with each plain reference to another
 * resource's attribute replaced by that attribute's value in the state: what Terraform would hand
 * the provider, template escapes undone. Undefined when a reference has no value in the state (not
 * created yet), or the text holds an expression this does not evaluate.
 */
export function resolveReferences(text: string, state: ShownState): string | undefined {
  const byAddress = new Map(stateResources(state).map((r) => [r.address, r]));
  let unresolved = false;
  const resolved = text.replace(
    REFERENCE,
    (_match, data: string | undefined, type: string, name: string, index: string | undefined, attribute: string) => {
      const address = `${data ? "data." : ""}${type}.${name}${index === undefined ? "" : `[${index}]`}`;
      const value = byAddress.get(address)?.values[attribute];
      if (typeof value !== "string" && typeof value !== "number") {
        unresolved = true;
        return "";
      }
      return String(value);
    }
  );
  const left = resolved.replace(/\$\$\{/g, "").replace(/%%\{/g, "");
  return unresolved || /\$\{|%\{/.test(left) ? undefined : unescapeTemplate(resolved);
}
