import { readFileSync } from "node:fs";
import { sleep } from "./command";

/**
 * A process the lab started. The start time (clock ticks since boot, /proc/<pid>/stat field 22)
 * tells it apart from an unrelated process that reused the pid after a crash or reboot.
 */
export interface ProcessIdentity {
  readonly pid: number;
  readonly startTime: number;
}

function readStat(pid: number): { state: string; startTime: number } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // comm (field 2) may contain spaces and parentheses: fields resume after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { state: fields[0], startTime: Number(fields[19]) };
}

export function identify(pid: number): ProcessIdentity {
  const stat = readStat(pid);
  if (!stat) throw new Error(`process ${pid} exited immediately`);
  return { pid, startTime: stat.startTime };
}

/** True while the process runs; a zombie awaiting its parent's wait() counts as exited. */
export function isAlive(p: ProcessIdentity): boolean {
  const stat = readStat(p.pid);
  return stat !== undefined && stat.startTime === p.startTime && stat.state !== "Z";
}

/** True while some process with this pid runs, whoever started it; a zombie counts as exited. */
export function isPidRunning(pid: number): boolean {
  const stat = readStat(pid);
  return stat !== undefined && stat.state !== "Z";
}

/** Sends `signal` and waits until the process has exited. False if it still runs after `timeoutMs`. */
export async function signalAndWait(p: ProcessIdentity, signal: NodeJS.Signals, timeoutMs: number): Promise<boolean> {
  if (!isAlive(p)) return true;
  try {
    process.kill(p.pid, signal);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ESRCH") throw e;
  }
  return waitExit(p, timeoutMs);
}

/** Waits until the process has exited. False if it still runs after `timeoutMs`. */
export async function waitExit(p: ProcessIdentity, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(p)) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}
