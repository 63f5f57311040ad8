import { FORCE_NEW, planResourceChange, resolvePlanned } from "./plan";
import { schemaToProto } from "./schema";
import { BlockSchema, ProviderHandlers, ProviderSchema } from "./types";
import { conformObject, decodeObject, DynamicValue, encodeObject, hasUnknown, toHandlerObject, Unknown, WireObject } from "./values";

// Requests and responses are plain objects in @grpc/proto-loader's shape (see LOADER_OPTIONS): snake_case fields,
// absent messages as null. Only the fields read here are typed.
export type RpcRequest = Record<string, unknown> & { readonly type_name?: string };
type Req = RpcRequest;
type Res = Record<string, unknown>;

export interface Diagnostic {
  readonly severity: "ERROR" | "WARNING";
  readonly summary: string;
  readonly detail: string;
}

/** A handler's exception as Terraform prints it: the message's first line as summary, the rest as detail. */
export function errorDiagnostic(error: unknown): Diagnostic {
  const message = error instanceof Error ? error.message : String(error);
  const [summary, ...rest] = message.split("\n");
  return { severity: "ERROR", summary: summary || "provider error", detail: rest.join("\n").trim() };
}

/** The tfplugin6 Provider service, one async method per RPC, independent of the transport. */
export class ProviderService {
  private stopper = new AbortController();

  constructor(
    private readonly schema: ProviderSchema,
    private readonly handlers: ProviderHandlers,
    private readonly forceNew = FORCE_NEW
  ) {}

  /** The signal handed to handlers now: StopProvider and close abort it. */
  get signal(): AbortSignal {
    return this.stopper.signal;
  }

  /** Aborts in-flight handlers; later calls (e.g. from the next Terraform process) get a fresh signal. */
  stop(reason: string): void {
    const stopper = this.stopper;
    this.stopper = new AbortController();
    stopper.abort(new Error(reason));
  }

  async GetMetadata(): Promise<Res> {
    return {
      server_capabilities: this.capabilities(),
      resources: Object.keys(this.schema.resources).map((type_name) => ({ type_name })),
      data_sources: Object.keys(this.schema.dataSources).map((type_name) => ({ type_name })),
    };
  }

  async GetProviderSchema(): Promise<Res> {
    const map = (m: Readonly<Record<string, BlockSchema>>) => Object.fromEntries(Object.entries(m).map(([k, s]) => [k, schemaToProto(s)]));
    return {
      provider: schemaToProto(this.schema.provider),
      resource_schemas: map(this.schema.resources),
      data_source_schemas: map(this.schema.dataSources),
      server_capabilities: this.capabilities(),
    };
  }

  async ValidateProviderConfig(req: Req): Promise<Res> {
    decodeObject(req.config as DynamicValue, this.schema.provider);
    return {};
  }

  async ValidateResourceConfig(req: Req): Promise<Res> {
    decodeObject(req.config as DynamicValue, this.resource(req.type_name));
    return {};
  }

  async ValidateDataResourceConfig(req: Req): Promise<Res> {
    decodeObject(req.config as DynamicValue, this.dataSource(req.type_name));
    return {};
  }

  async UpgradeResourceState(req: Req): Promise<Res> {
    const schema = this.resource(req.type_name);
    const raw = req.raw_state as { json?: Uint8Array; flatmap?: Record<string, string> } | null;
    if (!raw?.json || raw.json.length === 0) {
      if (raw?.flatmap && Object.keys(raw.flatmap).length > 0)
        throw new Error(`${req.type_name}: flatmap (Terraform 0.11) state is not supported`);
      return { upgraded_state: encodeObject(null, schema) };
    }
    // State JSON written under an older derived schema: conforming fills missing attributes and drops unknown ones.
    const state = conformObject(JSON.parse(Buffer.from(raw.json).toString("utf8")), schema.attributes, "");
    return { upgraded_state: encodeObject(state instanceof Unknown ? null : state, schema) };
  }

  async ConfigureProvider(req: Req): Promise<Res> {
    const config = decodeObject(req.config as DynamicValue, this.schema.provider);
    if (config && hasUnknown(config)) throw new Error("the aws provider configuration depends on values known only after apply");
    await this.handlers.configure?.(config ? toHandlerObject(config) : {});
    return {};
  }

  async ReadResource(req: Req): Promise<Res> {
    const type = req.type_name ?? "";
    const schema = this.resource(type);
    const state = decodeObject(req.current_state as DynamicValue, schema);
    if (!state || !this.handlers.read) return { new_state: encodeObject(state, schema), private: req.private };
    const read = await this.handlers.read({ type, state: toHandlerObject(state) });
    const refreshed = read === null ? null : (conformObject({ ...toHandlerObject(state), ...read }, schema.attributes, "") as WireObject);
    return { new_state: encodeObject(refreshed, schema), private: req.private };
  }

  async PlanResourceChange(req: Req): Promise<Res> {
    const type = req.type_name ?? "";
    const schema = this.resource(type);
    const plan = planResourceChange({
      type,
      schema,
      prior: decodeObject(req.prior_state as DynamicValue, schema),
      proposed: decodeObject(req.proposed_new_state as DynamicValue, schema),
      config: decodeObject(req.config as DynamicValue, schema),
      forceNew: this.forceNew,
    });
    return {
      planned_state: encodeObject(plan.planned, schema),
      requires_replace: plan.requiresReplace.map((attribute_name) => ({ steps: [{ attribute_name }] })),
      planned_private: req.prior_private,
    };
  }

  async ApplyResourceChange(req: Req): Promise<Res> {
    const type = req.type_name ?? "";
    const schema = this.resource(type);
    const prior = decodeObject(req.prior_state as DynamicValue, schema);
    const planned = decodeObject(req.planned_state as DynamicValue, schema);
    const config = decodeObject(req.config as DynamicValue, schema);
    const signal = this.signal;
    try {
      let newState: WireObject | null = null;
      if (planned === null) {
        if (prior) await this.handlers.delete({ type, prior: toHandlerObject(prior), signal });
      } else {
        const base = { type, config: config ? toHandlerObject(config) : {}, planned: toHandlerObject(planned), signal };
        const returned = prior ? await this.handlers.update({ ...base, prior: toHandlerObject(prior) }) : await this.handlers.create(base);
        newState = resolvePlanned(planned, returned ?? {}, schema);
      }
      return { new_state: encodeObject(newState, schema), private: req.planned_private };
    } catch (error) {
      // A failed update or delete leaves the object as it was: keep it in state (as the prior) so the next run
      // retries, rather than leaving Terraform to guess from an absent new state. A failed create leaves nothing.
      return { new_state: encodeObject(prior, schema), private: req.planned_private, diagnostics: [errorDiagnostic(error)] };
    }
  }

  async ImportResourceState(req: Req): Promise<Res> {
    throw new Error(
      `${req.type_name}: import is not supported by the lab's aws provider\nDeclare the resource in the stack and apply it instead.`
    );
  }

  async ReadDataSource(req: Req): Promise<Res> {
    const type = req.type_name ?? "";
    const schema = this.dataSource(type);
    const config = decodeObject(req.config as DynamicValue, schema) ?? {};
    const read = await this.handlers.readData({ type, config: toHandlerObject(config), signal: this.signal });
    // What the configuration says stands; the handler fills in the rest.
    const filled = Object.fromEntries(Object.keys(config).map((k) => [k, config[k] === null ? read?.[k] ?? null : config[k]]));
    return { state: encodeObject(conformObject(filled, schema.attributes, "") as WireObject, schema) };
  }

  async GetFunctions(): Promise<Res> {
    return { functions: {} };
  }

  async StopProvider(): Promise<Res> {
    this.stop("Terraform asked the provider to stop");
    return { Error: "" };
  }

  private capabilities(): Res {
    // plan_destroy: Terraform also asks PlanResourceChange about destroys, which we answer with a null plan.
    return { plan_destroy: true, get_provider_schema_optional: false, move_resource_state: false };
  }

  private resource(type: string | undefined): BlockSchema {
    const schema = this.schema.resources[type ?? ""];
    if (!schema)
      throw new Error(`the lab's aws provider has no resource type "${type}"\nIt serves: ${Object.keys(this.schema.resources).join(", ")}`);
    return schema;
  }

  private dataSource(type: string | undefined): BlockSchema {
    const schema = this.schema.dataSources[type ?? ""];
    if (!schema)
      throw new Error(`the lab's aws provider has no data source "${type}"\nIt serves: ${Object.keys(this.schema.dataSources).join(", ")}`);
    return schema;
  }
}

/** RPCs Terraform may call that this provider refuses, by the response field that carries the refusal. */
export const UNSUPPORTED_RPCS: Readonly<Record<string, "diagnostics" | "error">> = {
  MoveResourceState: "diagnostics",
  ValidateEphemeralResourceConfig: "diagnostics",
  OpenEphemeralResource: "diagnostics",
  RenewEphemeralResource: "diagnostics",
  CloseEphemeralResource: "diagnostics",
  CallFunction: "error",
};
