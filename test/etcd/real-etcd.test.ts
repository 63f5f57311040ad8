import { type ChildProcess, spawn } from "child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { get as httpGet } from "http";
import { request as httpsRequest } from "https";
import { createServer } from "net";
import { tmpdir } from "os";
import { join } from "path";
import { parseEnvironmentFile, renderEtcdConf } from "../../lib/etcd/etcd-conf";
import { tuningSettings } from "../../lib/etcd/tuning";
import { type TestPki, testPki } from "./helpers/pki";
import { requireTool } from "../support/tools";

// Loopback only: every URL below is 127.0.0.1.
const HOST = "127.0.0.1";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, HOST, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** GET over https; `tls` undefined means no client certificate. */
function httpsGet(url: string, ca: string, tls?: { cert: string; key: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca, ...tls, timeout: 3000 }, (res) => {
      let body = "";
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

function plainGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    httpGet(url, { timeout: 3000 }, (res) => {
      let body = "";
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => resolve(body));
    }).on("error", reject);
  });
}

/** Starts etcd with exactly `env` (plus PATH), as systemd would from an EnvironmentFile. */
function startEtcd(env: Record<string, string>): { child: ChildProcess; log: () => string; exited: Promise<number | null> } {
  const etcd = requireTool("etcd", "etcd-server");
  const child = spawn(etcd, [], { env: { PATH: "/usr/bin:/bin", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stdout?.on("data", (chunk) => (log += chunk));
  child.stderr?.on("data", (chunk) => (log += chunk));
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  return { child, log: () => log, exited };
}

describe("the real etcd 3.4 started from a rendered etcd.conf", () => {
  let dir: string;
  let pki: TestPki;
  let etcd: ReturnType<typeof startEtcd> | undefined;
  let clientUrl: string;
  let metricsUrl: string;

  beforeAll(async () => {
    requireTool("etcd", "etcd-server");
    requireTool("openssl", "openssl");
    dir = mkdtempSync(join(tmpdir(), "real-etcd-"));
    pki = testPki(dir);
    const [clientPort, peerPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
    clientUrl = `https://${HOST}:${clientPort}`;
    const peerUrl = `https://${HOST}:${peerPort}`;
    metricsUrl = `http://${HOST}:${metricsPort}`;

    // GIVEN a rendered etcd.conf for one member on loopback, with tuning and extra settings
    const settings = tuningSettings(
      {
        heartbeatIntervalMs: 100,
        electionTimeoutMs: 1000,
        quotaBackendBytes: 2 * 1024 ** 3,
        autoCompactionMode: "periodic",
        autoCompactionRetention: "1h",
        snapshotCount: 10000,
        listenMetricsUrls: [metricsUrl],
        logLevel: "info",
        initialCorruptCheck: true,
        extraSettings: {
          ETCD_MAX_REQUEST_BYTES: "1572864",
          ETCD_MAX_TXN_OPS: "128",
          ETCD_PRE_VOTE: "true",
          ETCD_STRICT_RECONFIG_CHECK: "true",
          ETCD_GRPC_KEEPALIVE_MIN_TIME: "5s",
          ETCD_WAL_DIR: join(dir, "wal"),
        },
      },
      "v3.4.23"
    );
    const confFile = join(dir, "etcd.conf");
    writeFileSync(
      confFile,
      renderEtcdConf({
        name: "etcd_node1",
        dataDir: join(dir, "etcd_node1.etcd"),
        listenPeerUrls: [peerUrl],
        listenClientUrls: [clientUrl, clientUrl],
        initialAdvertisePeerUrls: [peerUrl],
        advertiseClientUrls: [clientUrl],
        initialCluster: [{ name: "etcd_node1", peerUrl }],
        initialClusterState: "new",
        initialClusterToken: "etcd-cluster-test",
        tls: { certFile: pki.memberCert, keyFile: pki.memberKey, trustedCaFile: pki.caCert },
        settings,
      })
    );
    // WHEN etcd runs with exactly the environment systemd would give it
    etcd = startEtcd(parseEnvironmentFile(readFileSync(confFile, "utf8")));
    const deadline = Date.now() + 30000;
    for (;;) {
      const answer = await httpsGet(`${clientUrl}/health`, readFileSync(pki.caCert, "utf8"), {
        cert: readFileSync(pki.adminCert, "utf8"),
        key: readFileSync(pki.adminKey, "utf8"),
      }).catch(() => undefined);
      if (answer?.body.includes('"health":"true"')) break;
      if (Date.now() > deadline) throw new Error(`etcd did not become healthy in 30s; its log:\n${etcd.log()}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  });

  afterAll(async () => {
    if (etcd && etcd.child.exitCode === null) {
      etcd.child.kill("SIGTERM");
      const timer = setTimeout(() => etcd?.child.kill("SIGKILL"), 5000);
      await etcd.exited;
      clearTimeout(timer);
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("answers /health over mTLS with a client certificate", async () => {
    // GIVEN the running member WHEN a client with the admin certificate asks for /health THEN it is healthy
    const answer = await httpsGet(`${clientUrl}/health`, readFileSync(pki.caCert, "utf8"), {
      cert: readFileSync(pki.adminCert, "utf8"),
      key: readFileSync(pki.adminKey, "utf8"),
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toContain('"health":"true"');
  });

  test("refuses a client without a certificate (ETCD_CLIENT_CERT_AUTH took effect)", async () => {
    // GIVEN the running member WHEN a client without a certificate connects THEN the TLS handshake fails
    await expect(httpsGet(`${clientUrl}/health`, readFileSync(pki.caCert, "utf8"))).rejects.toThrow();
  });

  test("serves metrics on the tuning's metrics URL", async () => {
    // GIVEN tuning.listenMetricsUrls WHEN /metrics is fetched there over plain http THEN etcd answers
    expect(await plainGet(`${metricsUrl}/metrics`)).toContain("etcd_server_has_leader 1");
  });

  test("used every variable and logged no unrecognized one", () => {
    // GIVEN the member's log WHEN searched THEN no variable was unrecognized and the rendered ones were used
    const log = etcd?.log() ?? "";
    expect(log).not.toContain("unrecognized environment variable");
    for (const name of [
      "ETCD_NAME",
      "ETCD_PEER_CLIENT_CERT_AUTH",
      "ETCD_LISTEN_METRICS_URLS",
      "ETCD_WAL_DIR",
      "ETCD_PRE_VOTE",
      "ETCD_EXPERIMENTAL_INITIAL_CORRUPT_CHECK",
    ]) {
      expect(log).toContain(`recognized and used environment variable ${name}=`);
    }
  });

  test("the log check would see an unrecognized variable", async () => {
    // GIVEN an unknown ETCD_* variable and an invalid cluster state, so etcd exits right after reading its environment
    const probe = startEtcd({
      ETCD_NAME: "probe",
      ETCD_DATA_DIR: join(dir, "probe.etcd"),
      ETCD_NOT_A_FLAG: "1",
      ETCD_INITIAL_CLUSTER_STATE: "bogus",
    });
    const code = await probe.exited;
    // THEN etcd warns about it, so the test above can fail
    expect(code).not.toBe(0);
    expect(probe.log()).toContain("unrecognized environment variable ETCD_NOT_A_FLAG=1");
  });
});
