export { labUp, labDown, Lab } from "./lab";
export type { LabUpOptions } from "./lab";
export { readLabStack } from "./stack";
export type { LabStack, LabMember, LabUnit, LabFile } from "./stack";
export type { LabNetwork, LabEndpoint } from "./network";
export type { CommandResult, RunOptions } from "./command";
