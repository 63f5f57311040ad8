// The SSM transport against the lab's Run Command (lib/lab/machine/aws-endpoint.js), through the
// real AWS CLI, all on loopback: the endpoint knows 127.0.0.2 as the member's instance, and this
// test stands where that instance's agent would, so each outcome of an invocation can be chosen.
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { addLearner, EtcdClient, EtcdUnreachableError, MembershipError, remove, SsmTransport } from "../../lib/membership/etcd-membership";
import { ON_MEMBER_CLIENT } from "../../lib/host/member-user-data";
import { AWS_CLI, AWS_TEST_ENV } from "../support/s3-server";
import { temporaryDirectory } from "../support/temp";

const MEMBER_IP = "127.0.0.2";
const TAG = "etcd-0123456789abcdef";

let endpoint: ChildProcess;
let port: number;
let logFile: string;
const savedEnv = { ...process.env };

beforeAll(async () => {
  const dir = temporaryDirectory("ssm-endpoint-");
  const config = path.join(dir, "aws-endpoint.json");
  fs.writeFileSync(
    config,
    JSON.stringify({
      region: "us-east-1",
      instances: {
        [MEMBER_IP]: { instanceId: "i-0123456789abcdef0", member: "etcd_node1", tags: { "etcd:cluster": TAG }, state: "running" },
      },
      parameters: {},
      releasesDirs: [dir],
    })
  );
  port = await freePort();
  logFile = path.join(dir, "endpoint.log");
  const log = fs.openSync(logFile, "a");
  endpoint = spawn(process.execPath, [path.join(__dirname, "../../lib/lab/machine/aws-endpoint.js"), config, String(port)], {
    stdio: ["ignore", log, log],
  });
  fs.closeSync(log);
  while (!fs.readFileSync(logFile, "utf8").includes("listening")) await new Promise((r) => setTimeout(r, 50));
  // The deployer's credentials (the endpoint checks no signature), and none of this machine's AWS configuration.
  Object.assign(process.env, AWS_TEST_ENV);
});

afterAll(async () => {
  process.env = savedEnv;
  endpoint.kill("SIGKILL");
  await new Promise((r) => endpoint.once("exit", r));
});

function transport(timeoutMs = 20_000, lines: string[] = []): SsmTransport {
  const url = `http://127.0.0.1:${port}`;
  return new SsmTransport({
    clusterTag: TAG,
    region: "us-east-1",
    onMember: ON_MEMBER_CLIENT,
    awsCli: AWS_CLI,
    endpointUrl: { ssm: url, ec2: url },
    timeoutMs,
    pollMs: 100,
    log: (l: string) => lines.push(l),
  });
}

/** Takes the next command sent to the instance, as its agent does, and reports `result` for it. */
async function agentAnswers(result: { rc: number; stdout?: string; stderr?: string }): Promise<string> {
  const next = await agentRequest("GET", "/lab/ssm/agent/next");
  const [commandId, , ...script] = next.split("\n");
  const b64 = (s = "") => Buffer.from(s).toString("base64");
  await agentRequest("POST", `/lab/ssm/agent/result?command=${commandId}`, `${result.rc}\n${b64(result.stdout)}\n${b64(result.stderr)}\n`);
  return script.join("\n");
}

function agentRequest(method: string, urlPath: string, body?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: urlPath, method, localAddress: MEMBER_IP }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (d) => (text += d));
      res.on("end", () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`agent ${urlPath}: HTTP ${res.statusCode}`))));
    });
    req.on("error", reject);
    req.end(body);
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = http.createServer().listen(0, "127.0.0.1", () => {
      const { port: p } = server.address() as AddressInfo;
      server.close(() => resolve(p));
    });
  });
}

test("GIVEN the member's agent answers WHEN the member list is asked THEN one curl ran on the member against its own loopback URL with its own certificate", async () => {
  const client = new EtcdClient({ endpoints: [`https://${MEMBER_IP}:2379`], transport: transport() });
  const [script, { members }] = await Promise.all([
    agentAnswers({ rc: 0, stdout: `${JSON.stringify({ header: {}, members: [{ ID: "42", name: "etcd_node1" }] })}\n200\n` }),
    client.memberList(),
  ]);
  expect(members).toEqual([{ ID: "42", name: "etcd_node1" }]);
  expect(script.trim()).toBe(
    "curl -sS --max-time 10 --cacert /etc/etcd/ssl/ca.pem --cert /etc/etcd/ssl/etcd.pem --key /etc/etcd/ssl/etcd-key.pem -X POST -H 'content-type: application/json' --data-binary '{}' -w '\\n%{http_code}' https://127.0.0.1:2379/v3/cluster/member/list"
  );
});

test("GIVEN curl fails on the member WHEN asked THEN the error is the member's, with the hint the direct transport would give", async () => {
  const client = new EtcdClient({ endpoints: [`https://${MEMBER_IP}:2379`], transport: transport() });
  const [, error] = await Promise.all([
    agentAnswers({ rc: 7, stderr: "curl: (7) Failed to connect to 127.0.0.1 port 2379: Connection refused\n" }),
    client.memberList().catch((e: unknown) => e),
  ]);
  expect(error).toBeInstanceOf(EtcdUnreachableError);
  expect((error as Error).message).toMatch(
    /https:\/\/127\.0\.0\.2:2379: on i-0123456789abcdef0, curl to https:\/\/127\.0\.0\.1:2379 exited 7: curl: \(7\) Failed to connect .*\(connection refused: is etcd running there/
  );
});

test("GIVEN no agent picks the command up WHEN the bound passes THEN the request fails, with progress lines, and the command is cancelled", async () => {
  const lines: string[] = [];
  const mark = fs.readFileSync(logFile, "utf8").length;
  // 11 s: room for a progress line (every 5 s) even where each AWS CLI call takes seconds.
  const error = await transport(11_000, lines)
    .request(`https://${MEMBER_IP}:2379`, "POST", "/v3/cluster/member/list", {})
    .catch((e: unknown) => e as Error & { code?: string });
  expect(error).toMatchObject({
    code: "SSM_TIMEOUT",
    message: expect.stringMatching(/^Run Command on i-0123456789abcdef0 was still Pending after \d+ s: cancelled it$/),
  });
  expect(lines).toContainEqual(expect.stringMatching(/^waiting for Run Command \S+ on i-0123456789abcdef0: Pending \(\d+ s\)$/));
  expect(fs.readFileSync(logFile, "utf8").slice(mark)).toMatch(/POST \/ AmazonSSM\.CancelCommand 200/);
});

test("GIVEN no running instance of the cluster at the address THEN the request fails naming the address and the tag", async () => {
  const error = await transport()
    .request("https://127.0.0.9:2379", "POST", "/v3/cluster/member/list", {})
    .catch((e: unknown) => e as Error & { code?: string });
  expect(error).toMatchObject({ code: "SSM_NO_INSTANCE", message: `no running instances at 127.0.0.9 tagged etcd:cluster=${TAG}` });
});

describe("a backup before the member list changes", () => {
  const PEER = "https://172.16.0.104:2380";
  const listing = (members: object[]) => ({ rc: 0, stdout: `${JSON.stringify({ header: {}, members })}\n200\n` });
  const step = (lines: string[]) => ({
    client: new EtcdClient({ endpoints: [`https://${MEMBER_IP}:2379`], transport: transport(20_000, lines) }),
    peerUrl: PEER,
    name: "etcd_node4",
    timeoutMs: 20_000,
    log: (l: string) => lines.push(l),
    backupFirst: true,
  });

  test("GIVEN the backup succeeds WHEN a member is added THEN etcd-backup --force ran on a member before member add", async () => {
    const lines: string[] = [];
    const adding = addLearner(step(lines));
    const scripts = [
      await agentAnswers(listing([{ ID: "1", name: "etcd_node1", peerURLs: ["https://172.16.0.101:2380"] }])),
      await agentAnswers({
        rc: 0,
        stdout: "etcd-backup: uploaded s3://b/p/x.snapshot.db.gz (daily; 10 bytes, revision 9, 8 database keys, 1 s)\n",
      }),
      await agentAnswers({
        rc: 0,
        stdout: `${JSON.stringify({ header: {}, member: { ID: "4", peerURLs: [PEER], isLearner: true } })}\n200\n`,
      }),
    ];
    await expect(adding).resolves.toMatchObject({ ID: "4", isLearner: true });
    expect(scripts[1].trim()).toBe("/usr/local/sbin/etcd-backup --force --reason 'adding etcd_node4 (https://172.16.0.104:2380)'");
    expect(scripts[2]).toContain("/v3/cluster/member/add");
    expect(lines).toContain(
      "backed up first, on i-0123456789abcdef0: etcd-backup: uploaded s3://b/p/x.snapshot.db.gz (daily; 10 bytes, revision 9, 8 database keys, 1 s)"
    );
  });

  test("GIVEN the member is already in the list WHEN added again THEN nothing changes and no backup is taken", async () => {
    const lines: string[] = [];
    const adding = addLearner(step(lines));
    await agentAnswers(listing([{ ID: "4", peerURLs: [PEER], isLearner: true }]));
    await expect(adding).resolves.toMatchObject({ ID: "4" });
    expect(lines.some((l) => l.startsWith("backed up first"))).toBe(false);
  });

  test("GIVEN the backup fails WHEN a member is removed THEN the step fails naming the backup's error, and no member remove is sent", async () => {
    const lines: string[] = [];
    const removing = remove(step(lines)).catch((e: unknown) => e);
    await agentAnswers(
      listing([
        { ID: "1", name: "etcd_node1", peerURLs: ["https://172.16.0.101:2380"] },
        { ID: "4", name: "etcd_node4", peerURLs: [PEER] },
      ])
    );
    const backup = await agentAnswers({ rc: 1, stderr: "etcd-backup: failed at upload: upload of x.snapshot.db.gz to s3://b/p\n" });
    const error = await removing;
    expect(backup).toContain("--reason 'removing etcd_node4");
    expect(error).toBeInstanceOf(MembershipError);
    expect((error as Error).message).toBe(
      "the backup before removing etcd_node4 (https://172.16.0.104:2380) failed on i-0123456789abcdef0 (exit 1): etcd-backup: failed at upload: upload of x.snapshot.db.gz to s3://b/p. Nothing was changed: fix the backup (journalctl -u etcd-backup on a member), or deploy with backup.beforeMembershipChanges false"
    );
    // Nothing else was sent: the next command the agent would take never comes (last in the file:
    // the agent's long poll is left to end with the endpoint).
    const next = await Promise.race([
      agentRequest("GET", "/lab/ssm/agent/next").then(() => "a command"),
      new Promise((r) => setTimeout(() => r("none"), 1500)),
    ]);
    expect(next).toBe("none");
  });
});
