export { labDeploy, labDestroy, labUp, labDown, Lab, DEFAULT_LAB, TerraformFailed } from "./lab";
export { hostTools } from "./host-checks";
export type { LabDeployOptions } from "./lab";
export type { LabTools } from "./host-checks";
export { readLabStack } from "./stack";
export type { LabStack, LabMember, LabUnit, LabFile } from "./stack";
export type { LabNetwork, LabEndpoint } from "./network";
export type { CommandResult, RunOptions } from "./command";
