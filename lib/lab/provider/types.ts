/**
 * A Terraform value as handlers see it. Handlers never see unknown values: an attribute that Terraform will
 * know only after apply is absent from `planned` (test with `!(name in planned)`). Nothing else can be unknown
 * when a handler runs, because Terraform calls apply, read and data reads with wholly known configuration.
 */
export type Value = null | string | number | boolean | Value[] | { [k: string]: Value };

export interface ResourceRequest {
  /** The resource type, e.g. "aws_instance". */
  readonly type: string;
  /**
   * The configuration as Terraform evaluated it: every schema attribute (null when unset), write-only ones included.
   * It is the configuration as written: lifecycle.ignore_changes shows in `planned`, not here.
   */
  readonly config: Record<string, Value>;
  /** The planned new state: known attributes with their final values; attributes still to be decided are absent. */
  readonly planned: Record<string, Value>;
  /** The prior state (updates only). */
  readonly prior?: Record<string, Value>;
  /** Aborted when Terraform asks the provider to stop (StopProvider, e.g. on Ctrl-C) or the server closes. */
  readonly signal: AbortSignal;
}

export interface ProviderHandlers {
  /** Returns values for attributes that are unknown in `planned` (others are ignored); still-unknown ones become null. */
  create(req: ResourceRequest): Promise<Record<string, Value>>;
  /** As create, for an in-place update; `prior` is the state before it. */
  update(req: ResourceRequest & { readonly prior: Record<string, Value> }): Promise<Record<string, Value>>;
  /** Destroys the object whose state is `prior`. */
  delete(req: { readonly type: string; readonly prior: Record<string, Value>; readonly signal: AbortSignal }): Promise<void>;
  /**
   * Refreshes a resource: null means it is gone (Terraform then plans to create it again); otherwise the returned
   * attributes replace those in `state` and omitted ones keep their value. Without `read`, state is kept as it is.
   */
  read?(req: { readonly type: string; readonly state: Record<string, Value> }): Promise<Record<string, Value> | null>;
  /** Reads a data source: returns values for the attributes that are null in `config` (others are ignored). */
  readData(req: {
    readonly type: string;
    readonly config: Record<string, Value>;
    readonly signal: AbortSignal;
  }): Promise<Record<string, Value>>;
  /** Called with the provider block (every schema attribute, null when unset) before any resource is touched. */
  configure?(config: Record<string, Value>): Promise<void>;
}

export interface ProviderServer {
  readonly socketPath: string;
  /** The process serving the socket (this one): Terraform only checks that it is alive. */
  readonly pid: number;
  /** value for TF_REATTACH_PROVIDERS */
  readonly reattach: string;
  /** Ends open streams and in-flight handlers (their signal aborts), stops listening and removes the socket. */
  close(): Promise<void>;
}

/** Primitive and collection types, spelled as Terraform's JSON type constraints. */
export type AttributeType = "string" | "number" | "bool" | readonly ["list", AttributeType] | readonly ["map", AttributeType];

/** A protocol-6 nested attribute type: an object (SINGLE) or a list of objects (LIST). */
export interface NestedType {
  readonly nesting: "SINGLE" | "LIST";
  readonly attributes: Readonly<Record<string, Attribute>>;
}

/** Exactly one of `type` and `nested` is set. */
export interface Attribute {
  readonly type?: AttributeType;
  readonly nested?: NestedType;
  readonly optional: boolean;
  readonly computed: boolean;
  /** Terraform 1.11 write-only argument: seen in config only, always null in plan and state. */
  readonly writeOnly: boolean;
}

/** The schema of the provider block, of one resource type or of one data source type. */
export interface BlockSchema {
  readonly attributes: Readonly<Record<string, Attribute>>;
}

export interface ProviderSchema {
  readonly provider: BlockSchema;
  /** By resource type. */
  readonly resources: Readonly<Record<string, BlockSchema>>;
  /** By data source type. */
  readonly dataSources: Readonly<Record<string, BlockSchema>>;
}
