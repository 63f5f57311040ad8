// A local stand-in for registry.terraform.io/hashicorp/aws: Terraform's plugin protocol 6 served in-process, so
// that real Terraform plans and applies a stack while the lab's handlers do the work.
export type {
  Attribute,
  AttributeType,
  BlockSchema,
  NestedType,
  ProviderHandlers,
  ProviderSchema,
  ProviderServer,
  ResourceRequest,
  Value,
} from "./types";
export type { ProviderServerOptions } from "./server";
export type { ForceNewRule } from "./plan";
export { deriveSchema } from "./schema";
export { startProviderServer, DEFAULT_PROVIDER_ADDRESS } from "./server";
export { FORCE_NEW } from "./plan";
