/** The majority of `voters` that raft needs to commit a write or elect a leader. */
export function quorumOf(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

/** How many voters may fail with the cluster still available. */
export function faultTolerance(voters: number): number {
  return voters - quorumOf(voters);
}
