// One real etcd member on loopback, with mutual TLS from the fixture PKI (its etcd_node1
// certificate lists 127.0.0.1), started from a rendered etcd.conf as systemd would start it.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import * as path from "node:path";
import { parseEnvironmentFile, renderEtcdConf } from "../../lib/etcd/etcd-conf";
import { FIXTURE_PKI } from "./synth";
import { temporaryDirectory } from "./temp";
import { requireTool } from "./tools";

export interface LoopbackEtcd {
  readonly clientUrl: string;
  /** The member's own client certificate, as a member's user data writes it. */
  readonly tls: { readonly cacert: string; readonly cert: string; readonly key: string };
  readonly dataDir: string;
  /** etcdctl (v3 API) against this member with its own certificate. */
  etcdctl(args: string[], input?: string): { code: number | null; stdout: string; stderr: string };
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface LoopbackEtcdOptions {
  readonly name?: string;
  readonly token?: string;
  /** A data directory to start from (a restored one); a new one by default. */
  readonly dataDir?: string;
  readonly clientPort?: number;
  readonly peerPort?: number;
  /** Where etcd and etcdctl are (see etcd-versions.ts); the system's by default. */
  readonly binDir?: string;
  /** The bootstrap cluster this member is one of (its own entry among them); itself alone by default. */
  readonly initialCluster?: readonly { readonly name: string; readonly peerUrl: string }[];
}

export async function startLoopbackEtcd(options: LoopbackEtcdOptions = {}): Promise<LoopbackEtcd> {
  const binDir = options.binDir ?? path.dirname(requireTool("etcd", "etcd-server"));
  const etcd = path.join(binDir, "etcd");
  const etcdctl = path.join(binDir, "etcdctl");
  const dir = temporaryDirectory("loopback-etcd-");
  const name = options.name ?? "etcd_node1";
  const [clientPort, peerPort] = [options.clientPort ?? (await freePort()), options.peerPort ?? (await freePort())];
  const clientUrl = `https://127.0.0.1:${clientPort}`;
  const peerUrl = `https://127.0.0.1:${peerPort}`;
  const tls = {
    cacert: path.join(FIXTURE_PKI, "ca.pem"),
    cert: path.join(FIXTURE_PKI, "etcd_node1.pem"),
    key: path.join(FIXTURE_PKI, "etcd_node1-key.pem"),
  };
  const dataDir = options.dataDir ?? path.join(dir, `${name}.etcd`);
  const conf = renderEtcdConf({
    name,
    dataDir,
    listenPeerUrls: [peerUrl],
    listenClientUrls: [clientUrl],
    initialAdvertisePeerUrls: [peerUrl],
    advertiseClientUrls: [clientUrl],
    initialCluster: options.initialCluster ? [...options.initialCluster] : [{ name, peerUrl }],
    initialClusterState: "new",
    initialClusterToken: options.token ?? "etcd-0123456789abcdef",
    tls: { certFile: tls.cert, keyFile: tls.key, trustedCaFile: tls.cacert },
    settings: {},
  });
  writeFileSync(path.join(dir, "etcd.conf"), conf);
  const child: ChildProcess = spawn(etcd, [], {
    env: { PATH: "/usr/bin:/bin", ...parseEnvironmentFile(conf) },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  child.stderr?.setEncoding("utf8").on("data", (d: string) => (log += d));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const run = (args: string[], input?: string) => {
    const r = spawnSync(
      etcdctl,
      [`--endpoints=${clientUrl}`, `--cacert=${tls.cacert}`, `--cert=${tls.cert}`, `--key=${tls.key}`, ...args],
      {
        encoding: "utf8",
        env: { PATH: "/usr/bin:/bin", ETCDCTL_API: "3" },
        timeout: 15_000,
        input,
      }
    );
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const deadline = Date.now() + 30_000;
  while (run(["endpoint", "health"]).code !== 0) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`etcd on ${clientUrl} did not become healthy; its log:\n${log}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    clientUrl,
    tls,
    dataDir,
    etcdctl: run,
    stop: async () => {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await exited;
      }
    },
  };
}

/** A cluster of `size` members on loopback, bootstrapped together (each waits for the quorum to answer). */
export async function startLoopbackCluster(
  size: number,
  options: Pick<LoopbackEtcdOptions, "binDir" | "token"> = {}
): Promise<LoopbackEtcd[]> {
  const ports = await Promise.all(Array.from({ length: size }, async () => ({ clientPort: await freePort(), peerPort: await freePort() })));
  const initialCluster = ports.map((p, i) => ({ name: `etcd_node${i + 1}`, peerUrl: `https://127.0.0.1:${p.peerPort}` }));
  return Promise.all(ports.map((p, i) => startLoopbackEtcd({ ...options, ...p, name: initialCluster[i].name, initialCluster })));
}
