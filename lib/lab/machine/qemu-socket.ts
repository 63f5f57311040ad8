import { connect } from "node:net";

/**
 * qemu's two JSON line protocols over a unix socket, one short connection per exchange: the guest
 * agent (a virtio-serial port to qemu-guest-agent in the VM) and QMP (qemu's own monitor). qemu's
 * server sockets take one client at a time; a connection held open would block every other caller
 * (a health poll while the lab waits on a command), so none is kept.
 */

/** The longest unix socket path the kernel takes (sun_path is 108 bytes, NUL included). */
export const MAX_SOCKET_PATH = 107;

export class QemuSocketError extends Error {}

interface Exchange {
  /** Bytes to send once connected. */
  readonly send: (write: (data: string | Buffer) => void) => void;
  /** Called with each complete JSON message received; returns a value to finish the exchange. */
  readonly receive: (message: Record<string, unknown>, write: (data: string | Buffer) => void) => unknown;
  readonly timeoutMs: number;
}

function exchange(path: string, ex: Exchange): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let pending = Buffer.alloc(0);
    let done = false;
    const finish = (error: Error | undefined, value?: unknown) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      // end() flushes what was written last (guest-shutdown, which has no answer to wait for).
      if (error) socket.destroy();
      else socket.end();
      if (error) reject(error);
      else resolve(value);
    };
    const timer = setTimeout(() => finish(new QemuSocketError(`no answer on ${path} within ${ex.timeoutMs} ms`)), ex.timeoutMs);
    const write = (data: string | Buffer) => void socket.write(data);
    socket.on("connect", () => ex.send(write));
    socket.on("error", (e) => finish(new QemuSocketError(`${path}: ${e.message}`)));
    socket.on("close", () => finish(new QemuSocketError(`${path} closed before answering`)));
    socket.on("data", (data: Buffer) => {
      pending = Buffer.concat([pending, data]);
      // The agent's sync answer starts with 0xFF: what came before it is a stale answer to an
      // earlier client that went away, and is dropped with it.
      const marker = pending.lastIndexOf(0xff);
      if (marker >= 0) pending = pending.subarray(marker + 1);
      let newline: number;
      while (!done && (newline = pending.indexOf(0x0a)) >= 0) {
        const line = pending.subarray(0, newline).toString("utf8").trim();
        pending = pending.subarray(newline + 1);
        if (line === "") continue;
        let message: Record<string, unknown>;
        try {
          message = JSON.parse(line) as Record<string, unknown>;
        } catch {
          continue; // a partial stale answer
        }
        try {
          const value = ex.receive(message, write);
          if (value !== undefined) finish(undefined, value);
        } catch (e) {
          finish(e as Error);
        }
      }
    });
  });
}

function answer(command: string, message: Record<string, unknown>): unknown {
  if ("error" in message) {
    const error = message.error as { class?: string; desc?: string };
    throw new QemuSocketError(`${command}: ${error.desc ?? error.class ?? JSON.stringify(error)}`);
  }
  return "return" in message ? { value: message.return } : undefined;
}

/**
 * One guest agent command. guest-sync-delimited first, with a fresh id: the agent may still hold
 * an answer for a client that timed out, and the id tells ours apart.
 */
export async function guestAgent<T>(
  path: string,
  command: string,
  args: Record<string, unknown> | undefined,
  timeoutMs: number
): Promise<T> {
  const id = Math.floor(Math.random() * 2 ** 31);
  let synced = false;
  const result = await exchange(path, {
    timeoutMs,
    send: (write) => {
      write(Buffer.from([0xff]));
      write(JSON.stringify({ execute: "guest-sync-delimited", arguments: { id } }) + "\n");
    },
    receive: (message, write) => {
      if (!synced) {
        if (message.return !== id) return undefined; // an answer to someone else
        synced = true;
        write(JSON.stringify(args ? { execute: command, arguments: args } : { execute: command }) + "\n");
        return undefined;
      }
      return answer(command, message);
    },
  });
  return (result as { value: T }).value;
}

/**
 * A guest agent command that never answers when it works: guest-shutdown. Sent after the sync, so
 * that it reached an agent that was listening.
 */
export async function guestAgentSend(path: string, command: string, args: Record<string, unknown>, timeoutMs: number): Promise<void> {
  const id = Math.floor(Math.random() * 2 ** 31);
  await exchange(path, {
    timeoutMs,
    send: (write) => {
      write(Buffer.from([0xff]));
      write(JSON.stringify({ execute: "guest-sync-delimited", arguments: { id } }) + "\n");
    },
    receive: (message, write) => {
      if (message.return !== id) return undefined;
      write(JSON.stringify({ execute: command, arguments: args }) + "\n");
      return true;
    },
  });
}

/** One QMP command, after the capabilities handshake QMP requires. Events are skipped. */
export async function qmp<T>(path: string, command: string, args: Record<string, unknown> | undefined, timeoutMs: number): Promise<T> {
  let stage: "greeting" | "capabilities" | "command" = "greeting";
  const result = await exchange(path, {
    timeoutMs,
    send: () => undefined,
    receive: (message, write) => {
      if ("event" in message) return undefined;
      if (stage === "greeting") {
        stage = "capabilities";
        write(JSON.stringify({ execute: "qmp_capabilities" }) + "\n");
        return undefined;
      }
      if (stage === "capabilities") {
        answer("qmp_capabilities", message);
        stage = "command";
        write(JSON.stringify(args ? { execute: command, arguments: args } : { execute: command }) + "\n");
        return undefined;
      }
      return answer(command, message);
    },
  });
  return (result as { value: T }).value;
}
