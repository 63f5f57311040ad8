// A client that writes one key every interval through the whole of something (a VM replaced, a
// roll), as an application on the cluster would: each write is its own etcdctl put against every
// member, from the lab's operator namespace, and counts only once etcd has acknowledged it.
import type { CommandResult } from "./command";

export interface WriteLoadReport {
  /** Writes started. */
  readonly attempted: number;
  /** key -> value of every write etcd acknowledged: each must be readable afterwards. */
  readonly acknowledged: ReadonlyMap<string, string>;
  /** Writes that failed (timed out, refused, no leader), with when they started (ms into the load) and etcdctl's last line. */
  readonly failures: readonly { readonly atMs: number; readonly error: string }[];
  /** Ticks skipped because too many writes were still outstanding: the cluster was not answering. */
  readonly skipped: number;
  /** The longest stretch with no write acknowledged, start and end of the load included. */
  readonly longestOutageMs: number;
  readonly durationMs: number;
}

export interface WriteLoad {
  /** Stops starting writes, waits for those in flight, and reports. */
  stop(): Promise<WriteLoadReport>;
}

/** What the load writes with: `put key value` against the cluster (Lab.etcdctl). */
export type Put = (key: string, value: string) => Promise<CommandResult>;

export function startWriteLoad(
  put: Put,
  options: { readonly prefix: string; readonly intervalMs?: number; readonly maxInFlight?: number }
): WriteLoad {
  const intervalMs = options.intervalMs ?? 50;
  const maxInFlight = options.maxInFlight ?? 40;
  const started = Date.now();
  const acknowledged = new Map<string, string>();
  const ackTimes: number[] = [];
  const failures: { atMs: number; error: string }[] = [];
  const inFlight = new Set<Promise<void>>();
  let attempted = 0;
  let skipped = 0;

  const tick = (): void => {
    if (inFlight.size >= maxInFlight) {
      skipped++;
      return;
    }
    const n = attempted++;
    const key = `${options.prefix}/${String(n).padStart(6, "0")}`;
    const value = `${options.prefix}-${n}`;
    const atMs = Date.now() - started;
    const write = put(key, value)
      .then((r) => {
        if (r.code === 0) {
          acknowledged.set(key, value);
          ackTimes.push(Date.now());
        } else {
          failures.push({ atMs, error: lastLine(r.stderr) || `exit ${r.code}` });
        }
      })
      .catch((e: Error) => void failures.push({ atMs, error: e.message }))
      .finally(() => inFlight.delete(write));
    inFlight.add(write);
  };
  const timer = setInterval(tick, intervalMs);
  tick();

  return {
    async stop() {
      clearInterval(timer);
      const stopped = Date.now();
      await Promise.all([...inFlight]);
      const times = [started, ...ackTimes.filter((t) => t <= stopped).sort((a, b) => a - b), stopped];
      const longestOutageMs = times.slice(1).reduce((longest, t, i) => Math.max(longest, t - times[i]), 0);
      return { attempted, acknowledged, failures, skipped, longestOutageMs, durationMs: stopped - started };
    },
  };
}

function lastLine(text: string): string {
  return text.trim().split("\n").pop() ?? "";
}
