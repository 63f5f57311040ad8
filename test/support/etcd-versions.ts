// The etcd versions the suites run against: Debian bookworm's 3.4 (the system's) and the sid
// pool's 3.5, unpacked by scripts/fetch-etcd.sh (which .ci/run calls). A missing one fails.
import { existsSync } from "node:fs";
import * as path from "node:path";
import { requireTool } from "./tools";

export const ETCD_MINORS = ["3.4", "3.5"] as const;
export type EtcdMinor = (typeof ETCD_MINORS)[number];

const UNPACKED_35 = path.join(__dirname, "..", "..", ".ci", "etcd-3.5.30", "usr", "bin");

/** The directory holding etcd, etcdctl (and from 3.5 etcdutl) of that version. */
export function etcdBinDir(minor: EtcdMinor): string {
  if (minor === "3.4") {
    const etcd = requireTool("etcd", "etcd-server");
    requireTool("etcdctl", "etcd-client");
    return path.dirname(etcd);
  }
  if (!existsSync(path.join(UNPACKED_35, "etcdutl"))) {
    throw new Error(`etcd 3.5 is not unpacked at ${UNPACKED_35}: run sh scripts/fetch-etcd.sh (as .ci/run does)`);
  }
  return UNPACKED_35;
}
