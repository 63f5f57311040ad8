/** One thing wrong with the props: where (a property path such as `members[2].privateIp`) and the sentence that says what and how to fix it. */
export interface ConfigProblem {
  readonly path: string;
  readonly message: string;
}

/** Collects problems during one resolve pass, so that every one is reported at once. */
export class Problems {
  private readonly list: ConfigProblem[] = [];

  add(path: string, message: string): void {
    this.list.push({ path, message });
  }

  get all(): readonly ConfigProblem[] {
    return this.list;
  }

  get empty(): boolean {
    return this.list.length === 0;
  }
}

/** The only error a user sees for bad props: every problem, each naming the field, the value and the fix. */
export class EtcdClusterConfigError extends Error {
  /** The messages, one per problem. */
  readonly problems: readonly string[];

  constructor(readonly constructPath: string, readonly details: readonly ConfigProblem[]) {
    super(
      `EtcdCluster ${constructPath}: ${details.length} problem(s) in its configuration, nothing was synthesized:\n` +
        details.map((p) => `  - ${p.message}`).join("\n")
    );
    this.name = "EtcdClusterConfigError";
    this.problems = details.map((p) => p.message);
  }
}
