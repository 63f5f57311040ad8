export { labUp, labDown, Lab, DEFAULT_LAB, hostTools } from "./lab";
export type { LabUpOptions, ApplyOptions, ApplyResult, ApplyStep, LabTools } from "./lab";
export { readLabStack } from "./stack";
export type { LabStack, LabMember, LabUnit, LabFile } from "./stack";
export type { LabNetwork, LabEndpoint } from "./network";
export type { CommandResult, RunOptions } from "./command";
