// What a lab leaves on the host, for the tests that check it leaves nothing.
import { existingNamespaces } from "../../lib/lab/network";

export { isPidRunning as running } from "../../lib/lab/process-identity";

/** The host's network namespaces that belong to `lab` (the lab names each `<lab>-<role>`). */
export function labNamespaces(lab: string): string[] {
  return existingNamespaces().filter((ns) => ns.startsWith(`${lab}-`));
}
