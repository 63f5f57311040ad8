import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { DirectTransport, EtcdClient, EtcdServerError, addLearner, promote, remove } from "../../lib/membership/etcd-membership";
import { PkiDirectory } from "../../lib/pki/pki-directory";
import { FIXTURE_PKI } from "../support/synth";
import { requireTool } from "../support/tools";
import { temporaryDirectory as tempDir } from "../support/temp";

// The membership script against a real single-member etcd on loopback, over mutual TLS with the
// fixture PKI: what each step does, re-run, refused and timed out.

const pki = (name: string) => path.join(FIXTURE_PKI, name);
const SCRIPT = path.join(__dirname, "..", "..", "lib", "membership", "etcd-membership.js");
let etcd: ChildProcess;
let dataDir: string | undefined;
let clientUrl: string;
let peerUrl: string;
let log: string[];

function client(overrides: Partial<ConstructorParameters<typeof EtcdClient>[0]> = {}): EtcdClient {
  return new EtcdClient({ endpoints: [clientUrl], cacert: pki("ca.pem"), cert: pki("admin.pem"), key: pki("admin-key.pem"), ...overrides });
}

const step = (peer: string, timeoutMs = 20000) => ({
  client: client(),
  peerUrl: peer,
  name: "etcd_node4",
  timeoutMs,
  log: (l: string) => log.push(l),
});

beforeAll(async () => {
  const binary = requireTool("etcd", "etcd-server");
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  clientUrl = `https://127.0.0.1:${clientPort}`;
  peerUrl = `https://127.0.0.1:${peerPort}`;
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "etcd-membership-"));
  etcd = spawn(binary, [], {
    env: {
      ETCD_NAME: "etcd_node1",
      ETCD_DATA_DIR: path.join(dataDir, "data"),
      ETCD_LISTEN_CLIENT_URLS: clientUrl,
      ETCD_ADVERTISE_CLIENT_URLS: clientUrl,
      ETCD_LISTEN_PEER_URLS: peerUrl,
      ETCD_INITIAL_ADVERTISE_PEER_URLS: peerUrl,
      ETCD_INITIAL_CLUSTER: `etcd_node1=${peerUrl}`,
      ETCD_CERT_FILE: pki("etcd_node1.pem"),
      ETCD_KEY_FILE: pki("etcd_node1-key.pem"),
      ETCD_TRUSTED_CA_FILE: pki("ca.pem"),
      ETCD_CLIENT_CERT_AUTH: "true",
      ETCD_PEER_CERT_FILE: pki("etcd_node1.pem"),
      ETCD_PEER_KEY_FILE: pki("etcd_node1-key.pem"),
      ETCD_PEER_TRUSTED_CA_FILE: pki("ca.pem"),
      ETCD_PEER_CLIENT_CERT_AUTH: "true",
    },
    stdio: "ignore",
  });
  for (let i = 0; i < 100 && !(await client().health(clientUrl)).healthy; i++) await new Promise((r) => setTimeout(r, 100));
});

// etcd goes first: a live etcd could write into its data directory while it is being removed.
afterAll(async () => {
  if (etcd && etcd.exitCode === null && etcd.signalCode === null) {
    const exited = new Promise((resolve) => etcd.once("exit", resolve));
    etcd.kill("SIGKILL");
    await exited;
  }
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});
beforeEach(() => (log = []));

/**
 * A client of two endpoints (both the test's etcd) whose transport loses the answer to the first
 * successful request to `urlPath`, as a reset connection or a timed-out Run Command does: the
 * change is made, and the client goes on to the second endpoint. etcd's own refusals come through.
 */
function clientLosingFirstAnswer(urlPath: string): { client: EtcdClient; lost: () => boolean } {
  const direct = new DirectTransport({ endpoints: [clientUrl], cacert: pki("ca.pem"), cert: pki("admin.pem"), key: pki("admin-key.pem") });
  let lost = false;
  const transport = {
    async request(endpoint: string, method: string, path: string, payload?: object) {
      const response = await direct.request(endpoint, method, path, payload);
      if (path === urlPath && !lost && !response.body.error) {
        lost = true;
        throw Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
      }
      return response;
    },
  };
  return { client: new EtcdClient({ endpoints: [clientUrl, clientUrl], transport }), lost: () => lost };
}

describe("add, promote, remove against a running etcd", () => {
  const joiner = "https://127.0.0.1:1"; // never started: exactly the recipe's "unstarted" member

  test("GIVEN a new peer URL WHEN add runs twice THEN one learner exists and the second run says so", async () => {
    await addLearner(step(joiner));
    await addLearner(step(joiner));
    const { members } = await client().memberList();
    expect(members.filter((m) => m.peerURLs?.includes(joiner))).toEqual([expect.objectContaining({ isLearner: true })]);
    expect(log[0]).toMatch(/^added etcd_node4 \(https:\/\/127\.0\.0\.1:1\) as learner \d+$/);
    expect(log[1]).toMatch(/already a member \(learner \d+, not started\): nothing to add/);
  });

  test("GIVEN one learner WHEN a second is added THEN etcd's one-learner limit is waited on, then reported", async () => {
    await expect(addLearner(step("https://127.0.0.1:2", 1500))).rejects.toThrow(
      /gave up after \d+ s trying to add .* too many learner members/
    );
    expect(log.some((l) => l.startsWith("waiting to add"))).toBe(true);
  });

  test("GIVEN a learner that never starts WHEN promote runs THEN it times out saying so", async () => {
    await expect(promote(step(joiner, 1500))).rejects.toThrow(/gave up .* promote .* registered but has not started yet/);
  });

  test("GIVEN the learner WHEN remove runs twice THEN it is gone and the second run is a no-op", async () => {
    await remove(step(joiner));
    await remove(step(joiner));
    expect((await client().memberList()).members.map((m) => m.peerURLs)).toEqual([[peerUrl]]);
    expect(log).toEqual([
      expect.stringMatching(/^removed etcd_node4/),
      "etcd_node4 (https://127.0.0.1:1) is not a member: nothing to remove",
    ]);
  });

  test("GIVEN a remove whose answer is lost WHEN the next endpoint no longer knows the member THEN the remove has succeeded", async () => {
    // GIVEN a registered learner, and a transport that loses the answer to the first member remove
    await addLearner(step(joiner));
    const lossy = clientLosingFirstAnswer("/v3/cluster/member/remove");
    log = [];
    // WHEN remove runs with two endpoints: the second is asked after the first's answer is lost
    await remove({ ...step(joiner), client: lossy.client });
    // THEN the member is gone, and the step says how it ended
    expect(lossy.lost()).toBe(true);
    expect((await client().memberList()).members.map((m) => m.peerURLs)).toEqual([[peerUrl]]);
    expect(log).toEqual([
      expect.stringMatching(
        /^etcd_node4 \(https:\/\/127\.0\.0\.1:1\) \(\d+\) was removed by a request whose answer was lost: nothing left to remove$/
      ),
    ]);
  });

  test("GIVEN an add whose answer is lost WHEN the next endpoint refuses it THEN the member list says the add has succeeded", async () => {
    // GIVEN a transport that loses the answer to the first member add
    const lossy = clientLosingFirstAnswer("/v3/cluster/member/add");
    log = [];
    // WHEN
    // (Its own peer URL: etcd 3.4 derives a member's id from its URLs and the second, and refuses an id removed in the same second.)
    const other = "https://127.0.0.1:4";
    const added = await addLearner({ ...step(other), client: lossy.client });
    // THEN one learner was added: the step read the member list rather than believe the next endpoint's refusal
    expect(lossy.lost()).toBe(true);
    expect(added.isLearner).toBe(true);
    expect((await client().memberList()).members.filter((m) => (m.peerURLs ?? []).includes(other))).toHaveLength(1);
    expect(log).toEqual([
      expect.stringMatching(/^etcd_node4 \(https:\/\/127\.0\.0\.1:4\) \(\d+\) was added by a request whose answer was lost$/),
    ]);
    await remove(step(other));
  });

  test("GIVEN a voting member WHEN etcd is asked to promote it THEN it refuses, and promote finds it voting and is done", async () => {
    // What a retried promote whose first answer was lost meets: the real etcd refusing to promote a voter.
    const { members } = await client().memberList();
    const error = (await client()
      .memberPromote(members[0].ID)
      .then(
        () => undefined,
        (e: unknown) => e
      )) as Error;
    expect(error).toBeInstanceOf(EtcdServerError);
    expect(error.message).toMatch(/can only promote a learner member$/);
    // AND promote of that member, asked of it, says there is nothing to do
    log = [];
    await promote({ ...step(peerUrl), name: "etcd_node1" });
    expect(log).toEqual([
      expect.stringMatching(/^etcd_node1 \(https:\/\/127\.0\.0\.1:\d+\) is a voting member \(\d+\): nothing to promote$/),
    ]);
  });

  test("GIVEN a member that is not registered WHEN promote runs THEN it fails at once with the order of steps", async () => {
    await expect(promote(step("https://127.0.0.1:3"))).rejects.toThrow(
      /is not a member of the cluster: register it first \(add\), then start it, then promote/
    );
  });

  test("GIVEN the last member WHEN remove runs THEN it is left alone (the whole cluster is being destroyed)", async () => {
    await remove({ ...step(peerUrl), name: "etcd_node1" });
    expect(log).toEqual([`etcd_node1 (${peerUrl}) is the last member: leaving it, the cluster goes with it`]);
    expect((await client().memberList()).members).toHaveLength(1);
  });
});

describe("clear errors when the cluster cannot be reached or refuses us", () => {
  const other = path.join(tempDir("other-ca-"), "pki");
  beforeAll(() => new PkiDirectory({ directory: other, keySize: 2048, caValidityDays: 30, certificateValidityDays: 30 }).plan([]).commit());

  test.each([
    [
      "nothing listens there",
      () => client({ endpoints: ["https://127.0.0.1:9"] }),
      /127\.0\.0\.1:9: connection refused: is etcd running there/,
    ],
    [
      "the server's certificate is from another CA",
      () => client({ cacert: path.join(other, "ca.pem") }),
      /not signed by the given CA|ends in a CA other than --cacert/,
    ],
    [
      "our client certificate is from another CA",
      () => client({ cert: path.join(other, "admin.pem"), key: path.join(other, "admin-key.pem") }),
      /refused our client certificate/,
    ],
  ])("GIVEN %s THEN member list fails naming the endpoint and the cause", async (_, make, message) => {
    await expect(make().memberList()).rejects.toThrow(message);
  });

  test("GIVEN an unreadable certificate path THEN the error names the file and the flag", () => {
    expect(() => client({ cert: "/nonexistent/admin.pem" })).toThrow("cannot read the client certificate (--cert) /nonexistent/admin.pem");
  });

  test("GIVEN the script's command line WHEN used as the provisioners use it THEN exit codes say what happened", () => {
    const run = (...args: string[]) => spawnSync(process.execPath, [SCRIPT, ...args], { encoding: "utf8" });
    const flags = [`--endpoints=${clientUrl}`, `--cacert=${pki("ca.pem")}`, `--cert=${pki("admin.pem")}`, `--key=${pki("admin-key.pem")}`];
    expect(run("frobnicate").status).toBe(2);
    const removed = run("remove", "--name=ghost", "--peer-url=https://127.0.0.1:4", ...flags);
    expect([removed.status, removed.stdout.trim()]).toEqual([
      0,
      "[etcd remove] ghost (https://127.0.0.1:4) is not a member: nothing to remove",
    ]);
    const failed = run("promote", "--name=ghost", "--peer-url=https://127.0.0.1:4", "--timeout=1", ...flags);
    expect(failed.status).toBe(1);
    expect(failed.stderr).toMatch(/the member is still a learner, which does not vote: the cluster's quorum is unchanged/);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
