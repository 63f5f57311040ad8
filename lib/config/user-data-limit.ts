import type { ClusterMember } from "../cluster-members";
import type { ConfigProblem } from "./config-error";

/** EC2 refuses user data over 16 KB before base64 encoding. */
export const USER_DATA_LIMIT_BYTES = 16384;

/**
 * The one rule that can only be checked once the user data is rendered: each member's must fit
 * EC2's limit. `userData` is keyed by member name.
 */
export function userDataSizeProblems(members: readonly ClusterMember[], userData: ReadonlyMap<string, string>): ConfigProblem[] {
  return members.flatMap((member, i) => {
    const bytes = Buffer.byteLength(userData.get(member.name) ?? "");
    if (bytes <= USER_DATA_LIMIT_BYTES) return [];
    return [
      {
        path: `members[${i}]`,
        message:
          `members[${i}] (${member.name}): its user data is ${bytes} bytes, over EC2's limit of ${USER_DATA_LIMIT_BYTES}: ` +
          `shorten tuning.extraSettings or extraSans, or use a 2048-bit key (pki.keySize)`,
      },
    ];
  });
}
