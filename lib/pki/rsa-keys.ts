// RSA key generation is ~90% of issuing a PKI (OpenSSL's prime search, 70-400 ms a key), so the
// keys a plan needs are made on every core at once. plan() stays synchronous, as a construct's
// constructor must be: the caller blocks on Atomics.wait and collects the keys with
// receiveMessageOnPort, both synchronous.
import { generateKeyPairSync } from "node:crypto";
import { availableParallelism } from "node:os";
import { MessageChannel, receiveMessageOnPort, Worker } from "node:worker_threads";

// Plain JavaScript, evaluated in the worker: it runs the same from lib/ (ts-node, jest) and dist/.
const WORKER = `
const { generateKeyPairSync } = require("node:crypto");
const { workerData } = require("node:worker_threads");
const { port, bits, count, done } = workerData;
try {
  for (let i = 0; i < count; i++) {
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: bits });
    port.postMessage(privateKey.export({ type: "pkcs1", format: "pem" }));
  }
} catch (e) {
  port.postMessage({ error: String(e && e.message || e) });
}
Atomics.add(done, 0, 1);
Atomics.notify(done, 0);
`;

/** PKCS#1 PEM (as cfssl writes keys). */
export function generateRsaKeyPem(bits: number): string {
  return generateKeyPairSync("rsa", { modulusLength: bits }).privateKey.export({ type: "pkcs1", format: "pem" }).toString();
}

/** `count` RSA keys, made in parallel when there is more than one and more than one core. */
export function generateRsaKeyPems(count: number, bits: number): string[] {
  const threads = Math.min(count, availableParallelism());
  if (threads <= 1) return Array.from({ length: count }, () => generateRsaKeyPem(bits));

  const done = new Int32Array(new SharedArrayBuffer(4));
  const jobs = Array.from({ length: threads }, (_, i) => {
    const { port1, port2 } = new MessageChannel();
    const share = Math.floor(count / threads) + (i < count % threads ? 1 : 0);
    const worker = new Worker(WORKER, { eval: true, workerData: { port: port2, bits, count: share, done }, transferList: [port2] });
    return { port: port1, worker };
  });
  for (let finished = 0; (finished = Atomics.load(done, 0)) < threads; ) Atomics.wait(done, 0, finished);

  const keys: string[] = [];
  for (const { port, worker } of jobs) {
    for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) {
      if (typeof m.message !== "string") throw new Error(`RSA key generation failed: ${m.message.error}`);
      keys.push(m.message);
    }
    port.close();
    void worker.terminate();
  }
  if (keys.length !== count) throw new Error(`RSA key generation made ${keys.length} of ${count} keys`);
  return keys;
}
