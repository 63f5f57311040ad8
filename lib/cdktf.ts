// The one place this library imports cdktf. HashiCorp archived cdktf in December 2025; moving to
// the community fork (CDK Terrain, "cdktn") should be a change to this file and package.json only.
export {
  Annotations,
  App,
  DataResource,
  Fn,
  LocalBackend,
  Op,
  TerraformAsset,
  AssetType,
  TerraformOutput,
  TerraformStack,
  Testing,
  Token,
  Tokenization,
  DefaultTokenResolver,
  StringConcat,
  ref,
} from "cdktf";
export type { IResolvable, ITerraformDependable, TerraformResource } from "cdktf";
