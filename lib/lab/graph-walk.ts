/**
 * Visits every node after the nodes it depends on, up to `parallelism` at a time, as Terraform walks
 * its graph (its default parallelism is 10): independent steps overlap, so a step that waits for
 * another (a membership step retrying until the cluster answers) does not block it.
 *
 * Dependencies outside `nodes` count as done. After a failure no further node starts; the ones
 * running finish, then the walk rejects with every failure, as Terraform stops an apply.
 */
export async function walkGraph(
  nodes: readonly string[],
  dependencies: (node: string) => readonly string[],
  visit: (node: string) => Promise<void>,
  parallelism = 10
): Promise<void> {
  const inWalk = new Set(nodes);
  const waitingFor = new Map(nodes.map((n) => [n, new Set(dependencies(n).filter((d) => inWalk.has(d) && d !== n))]));
  assertAcyclic(nodes, waitingFor);

  const failures: Error[] = [];
  let running = 0;
  await new Promise<void>((resolve) => {
    const pump = (): void => {
      if (failures.length === 0) {
        for (const [node, deps] of waitingFor) {
          if (running >= parallelism) break;
          if (deps.size > 0) continue;
          waitingFor.delete(node);
          running++;
          visit(node).then(
            () => {
              for (const deps of waitingFor.values()) deps.delete(node);
              finish();
            },
            (e: unknown) => {
              failures.push(e instanceof Error ? e : new Error(String(e)));
              finish();
            }
          );
        }
      }
      if (running === 0) resolve();
    };
    const finish = (): void => {
      running--;
      pump();
    };
    pump();
  });
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) throw new Error(failures.map((e) => e.message).join("\n\n"));
}

function assertAcyclic(nodes: readonly string[], waitingFor: Map<string, Set<string>>): void {
  const state = new Map<string, "visiting" | "done">();
  const visit = (node: string, path: string[]): void => {
    if (state.get(node) === "done") return;
    if (state.get(node) === "visiting") throw new Error(`dependency cycle: ${[...path, node].join(" -> ")}`);
    state.set(node, "visiting");
    for (const d of waitingFor.get(node) ?? []) visit(d, [...path, node]);
    state.set(node, "done");
  };
  nodes.forEach((n) => visit(n, []));
}
