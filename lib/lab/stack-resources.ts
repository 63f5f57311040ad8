import { readFileSync } from "node:fs";
import { join } from "node:path";
import { unescapeTemplate } from "../terraform-string";

/** A `local-exec` provisioner as Terraform runs it. */
export interface LocalExec {
  readonly command: string;
  /** Extra environment variables (`environment`). */
  readonly environment: Record<string, string>;
  /** `working_dir`, relative to the stack directory; Terraform's default is the stack directory. */
  readonly workingDir?: string;
  /** `interpreter`; Terraform's default on Linux is ["/bin/sh", "-c"]. */
  readonly interpreter: string[];
  /** `on_failure = "continue"`: a failing command does not fail the step. */
  readonly continueOnFailure: boolean;
}

/** One resource block of a synthesized stack, as the lab's apply sees it. */
export interface StackResource {
  /** `<type>.<name>`, Terraform's address (without an instance key). */
  readonly address: string;
  readonly type: string;
  /** False for `count = 0`: the block is kept (so its destroy provisioner runs) but no instance exists. */
  readonly exists: boolean;
  /** Addresses it waits for: `depends_on` plus resources its arguments reference, as in Terraform's graph. */
  readonly dependsOn: string[];
  /** Creation-time provisioners, in order. */
  readonly onCreate: LocalExec[];
  /** `when = "destroy"` provisioners, in order. */
  readonly onDestroy: LocalExec[];
}

type Blocks = Record<string, Record<string, Record<string, unknown>>>;

/** Reads every resource block of `<stackDir>/cdk.tf.json`, keyed by address. */
export function readStackResources(stackDir: string): Map<string, StackResource> {
  const file = join(stackDir, "cdk.tf.json");
  let blocks: Blocks;
  try {
    blocks = (JSON.parse(readFileSync(file, "utf8")) as { resource?: Blocks }).resource ?? {};
  } catch (e) {
    throw new Error(`cannot read the synthesized stack ${file}: ${(e as Error).message}`);
  }
  const addresses = new Set(Object.entries(blocks).flatMap(([type, named]) => Object.keys(named).map((n) => `${type}.${n}`)));
  const resources = new Map<string, StackResource>();
  for (const [type, named] of Object.entries(blocks)) {
    for (const [name, block] of Object.entries(named)) {
      const address = `${type}.${name}`;
      const provisioners = readProvisioners(address, block.provisioner);
      resources.set(address, {
        address,
        type,
        exists: block.count !== 0,
        dependsOn: [...new Set([...explicitDependencies(address, block, addresses), ...references(block, addresses)])].filter(
          (a) => a !== address
        ),
        onCreate: provisioners.filter((p) => !p.destroy).map((p) => p.exec),
        onDestroy: provisioners.filter((p) => p.destroy).map((p) => p.exec),
      });
    }
  }
  return resources;
}

function explicitDependencies(address: string, block: Record<string, unknown>, addresses: Set<string>): string[] {
  const dependsOn = (block.depends_on ?? []) as string[];
  for (const d of dependsOn) {
    // depends_on may name a module or data source; the lab's graph holds resources only.
    if (!addresses.has(d) && !d.startsWith("data.") && !d.startsWith("module.")) {
      throw new Error(`${address}: depends_on names ${d}, which is not in the stack`);
    }
  }
  return dependsOn.filter((d) => addresses.has(d));
}

/** Resources named inside `${...}` interpolations of the block's arguments (Terraform's implicit dependencies). */
function references(block: Record<string, unknown>, addresses: Set<string>): string[] {
  const { depends_on: _, provisioner: __, ...args } = block;
  const found = new Set<string>();
  for (const expr of JSON.stringify(args).match(/\$\{[^}]*\}/g) ?? []) {
    for (const m of expr.matchAll(/(?<![\w.])([a-z][a-z0-9_]*\.[A-Za-z_][\w-]*)/g)) {
      if (addresses.has(m[1])) found.add(m[1]);
    }
  }
  return [...found];
}

function readProvisioners(address: string, value: unknown): { destroy: boolean; exec: LocalExec }[] {
  if (value === undefined) return [];
  // JSON syntax allows one object of provisioner blocks or a list of them (cdktf writes a list).
  const entries = (Array.isArray(value) ? value : [value]).flatMap((p) => Object.entries(p as Record<string, unknown>));
  return entries.map(([kind, raw]) => {
    if (kind !== "local-exec") throw new Error(`${address}: a ${kind} provisioner is not modelled by the lab (only local-exec)`);
    const p = raw as Record<string, unknown>;
    return {
      destroy: p.when === "destroy",
      exec: {
        command: literal(address, "command", p.command),
        environment: Object.fromEntries(
          Object.entries((p.environment ?? {}) as Record<string, unknown>).map(([k, v]) => [k, literal(address, `environment.${k}`, v)])
        ),
        workingDir: p.working_dir as string | undefined,
        interpreter: (p.interpreter as string[] | undefined) ?? ["/bin/sh", "-c"],
        continueOnFailure: p.on_failure === "continue",
      },
    };
  });
}

/** A template string with no interpolation, as Terraform would hand it over (escapes undone). */
function literal(address: string, what: string, value: unknown): string {
  // Unescaped "${" or "%{" would be evaluated by Terraform, which the lab does not do.
  if (typeof value !== "string" || /[$%]\{/.test(value.replace(/\$\$\{|%%\{/g, ""))) {
    throw new Error(`${address}: local-exec ${what} is not a literal string; the lab evaluates no Terraform expressions`);
  }
  return unescapeTemplate(value);
}
