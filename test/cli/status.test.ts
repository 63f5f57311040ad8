import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { formatExpiry, readCertificateExpiry } from "../../lib/cli/certificate-expiry";
import { main } from "../../lib/cli/main";
import { formatHealth, formatMemberList, hexId, type ClusterStatus } from "../../lib/cli/cluster-status";
import { resolveConnection, UsageError } from "../../lib/cli/connection";
import { FIXTURE_PKI, synthCluster } from "../support/synth";
import { temporaryDirectory as tempDir } from "../support/temp";

// IDs as the JSON gateway gives them (decimal uint64 strings); the recipe's output shows hex.
const NODE1 = {
  ID: "8944526325213793273",
  name: "etcd_node1",
  peerURLs: ["https://172.16.0.101:2380"],
  clientURLs: ["https://172.16.0.101:2379"],
};
const NODE2 = {
  ID: "10588296396433215498",
  name: "etcd_node2",
  peerURLs: ["https://172.16.0.102:2380"],
  clientURLs: ["https://172.16.0.102:2379"],
};
const NODE4_UNSTARTED = { ID: "5945093591016061231", peerURLs: ["https://172.16.0.104:2380"], isLearner: true };

describe("status output, in the recipe's shape", () => {
  const status: ClusterStatus = {
    members: [NODE2, NODE4_UNSTARTED, NODE1],
    health: [
      { endpoint: "https://172.16.0.101:2379", healthy: true, leaderId: NODE1.ID },
      { endpoint: "https://172.16.0.102:2379", healthy: false, reason: "connection refused" },
    ],
  };

  test("THEN member list prints hex ids, the leader, and an unstarted learner as the recipe shows it", () => {
    expect(hexId("255")).toBe("ff");
    expect(hexId("18446744073709551615")).toBe("ffffffffffffffff"); // beyond a JS number's precision
    expect(formatMemberList(status)).toEqual([
      `${hexId(NODE4_UNSTARTED.ID)}[unstarted]: peerURLs=https://172.16.0.104:2380 isLearner=true`,
      `${hexId(NODE1.ID)}: name=etcd_node1 peerURLs=https://172.16.0.101:2380 clientURLs=https://172.16.0.101:2379 isLeader=true`,
      `${hexId(NODE2.ID)}: name=etcd_node2 peerURLs=https://172.16.0.102:2380 clientURLs=https://172.16.0.102:2379 isLeader=false`,
    ]);
  });

  test("THEN health names each member and says whether quorum holds", () => {
    expect(formatHealth(status)).toEqual([
      `member ${hexId(NODE1.ID)} is healthy: got healthy result from https://172.16.0.101:2379`,
      `member ${hexId(NODE2.ID)} is unhealthy: connection refused (https://172.16.0.102:2379)`,
      "cluster is unavailable: 1 of 2 voting members healthy, quorum needs 2",
    ]);
  });
});

describe("certificate expiry", () => {
  test("GIVEN the fixture PKI WHEN read at two dates THEN it lists every certificate and warns 30 days ahead", () => {
    const expiry = readCertificateExpiry(FIXTURE_PKI, new Date("2026-06-01T00:00:00Z"));
    expect(expiry.map((e) => e.file).sort()).toEqual(
      fs
        .readdirSync(FIXTURE_PKI)
        .filter((f) => /(?<!-key)\.pem$/.test(f))
        .sort()
    );
    expect(formatExpiry(expiry).every((l) => !l.startsWith("WARNING"))).toBe(true);

    const late = new Date(expiry[0].notAfter.getTime() - 10 * 86_400_000);
    expect(formatExpiry(readCertificateExpiry(FIXTURE_PKI, late))[0]).toMatch(/^WARNING: .* in 10 days: delete it and run cdktf synth/);
    const after = new Date(expiry[0].notAfter.getTime() + 86_400_000);
    expect(formatExpiry(readCertificateExpiry(FIXTURE_PKI, after))[0]).toMatch(/^EXPIRED: /);
  });

  test("THEN the synthesized outputs carry each certificate's expiry date", () => {
    const { json } = synthCluster();
    expect(Object.keys(json.output.etcd_certificate_expiry.value).sort()).toEqual([
      "admin",
      "ca",
      "etcd_node1",
      "etcd_node2",
      "etcd_node3",
    ]);
    expect(json.output.etcd_certificate_expiry.value.ca).toMatch(/^\d{4}-\d\d-\d\dT/);
  });
});

describe("where the CLI finds the cluster", () => {
  test("GIVEN --endpoints and --pki THEN those win", () => {
    expect(resolveConnection({ endpoints: "https://a:2379,https://b:2379", pki: "/p" }, {})).toEqual({
      endpoints: ["https://a:2379", "https://b:2379"],
      cacert: "/p/ca.pem",
      cert: "/p/admin.pem",
      key: "/p/admin-key.pem",
      transport: "direct",
    });
  });

  test("GIVEN --transport=ssm and a synthesized stack THEN the members' etcd:cluster tag and the provider's region come from it", () => {
    const { json } = synthCluster();
    const dir = tempDir("stack-");
    fs.writeFileSync(path.join(dir, "cdk.tf.json"), JSON.stringify(json));
    const tag = (Object.values(json.resource.aws_instance)[0] as any).tags["etcd:cluster"];
    expect(resolveConnection({ stack: dir, transport: "ssm" }, {})).toMatchObject({
      transport: "ssm",
      clusterTag: tag,
      region: json.provider.aws[0].region,
    });
    expect(
      resolveConnection({ stack: dir, transport: "ssm", "cluster-tag": "etcd-0123456789abcdef", region: "eu-west-1" }, {})
    ).toMatchObject({ clusterTag: "etcd-0123456789abcdef", region: "eu-west-1" });
  });

  test.each([
    [{ transport: "ssh" }, /--transport is "ssh": use "direct" \(from inside the VPC\) or "ssm"/],
    [{ transport: "ssm" }, /--transport=ssm finds the members by their etcd:cluster tag: give --stack .* or --cluster-tag/],
  ])("GIVEN %j THEN a usage error says what to give", (flags, message) => {
    const base = { endpoints: "https://127.0.0.1:9", pki: "/p" };
    expect(() => resolveConnection({ ...base, ...flags }, {})).toThrow(UsageError);
    expect(() => resolveConnection({ ...base, ...flags }, {})).toThrow(message);
  });

  test("GIVEN a synthesized stack THEN its etcdctl_environment output is used", () => {
    const { json } = synthCluster();
    const dir = tempDir("stack-");
    fs.writeFileSync(path.join(dir, "cdk.tf.json"), JSON.stringify(json));
    const connection = resolveConnection({ stack: dir }, {});
    expect(connection.endpoints).toEqual(["https://172.16.0.101:2379", "https://172.16.0.102:2379", "https://172.16.0.103:2379"]);
    expect(connection.cert).toMatch(/admin\.pem$/);
  });

  test("GIVEN nothing THEN the error says every way to name the cluster", () => {
    expect(() => resolveConnection({}, {})).toThrow(UsageError);
    expect(() => resolveConnection({}, {})).toThrow(/--stack cdktf.out\/stacks\/<stack>, or --endpoints URL,URL and --pki/);
  });
});

describe("the CLI's errors for a cluster it cannot use", () => {
  const run = async (...argv: string[]) => {
    const lines: string[] = [];
    const code = await main(argv, (l) => lines.push(l));
    return { code, text: lines.join("\n") };
  };

  test("GIVEN nothing listening THEN status exits 1 naming the endpoint and what to check", async () => {
    const { code, text } = await run("status", "--endpoints", "https://127.0.0.1:9", "--pki", FIXTURE_PKI);
    expect(code).toBe(1);
    expect(text).toMatch(/^etcd-cluster status: cannot reach the cluster's members from this machine: .*use --transport=ssm/);
    expect(text).toMatch(/\n\s+https:\/\/127\.0\.0\.1:9: connection refused: is etcd running there/);
  });

  test("GIVEN something other than etcd answering at the address THEN status says plainly no member answered, and names the other transport", async () => {
    // GIVEN a plain HTTP server where the member should be (on loopback)
    const server = http.createServer((_, res) => res.end("not etcd"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    try {
      // WHEN
      const { code, text } = await run("status", "--endpoints", `https://127.0.0.1:${port}`, "--pki", FIXTURE_PKI);
      // THEN the first line is the plain fact and the way out; the TLS detail only follows
      expect(code).toBe(1);
      const [first, ...rest] = text.split("\n");
      expect(first).toMatch(
        /cannot reach the cluster's members from this machine: .*something else answers at those addresses.*--transport=ssm/
      );
      expect(first).not.toMatch(/TLS|certificate/);
      expect(rest.join("\n")).toMatch(new RegExp(`https://127\\.0\\.0\\.1:${port}: TLS failed`));
    } finally {
      server.close();
    }
  });

  test("GIVEN --transport=ssm and an SSM that cannot be reached THEN status says Run Command reached no member, and names the direct transport", async () => {
    // GIVEN the real AWS CLI, pointed at a loopback port where nothing listens
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ENDPOINT_URL: "http://127.0.0.1:9",
      AWS_ACCESS_KEY_ID: "AKIATESTTESTTESTTEST",
      AWS_SECRET_ACCESS_KEY: "test",
      AWS_MAX_ATTEMPTS: "1",
      AWS_CONFIG_FILE: "/dev/null",
      AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
      AWS_EC2_METADATA_DISABLED: "true",
      ETCD_CLUSTER_AWS_CLI: fs.existsSync("/usr/bin/aws") ? "/usr/bin/aws" : "aws",
    });
    try {
      // WHEN
      const { code, text } = await run(
        "members",
        ...["--endpoints", "https://172.16.0.101:2379", "--pki", FIXTURE_PKI],
        ...["--transport=ssm", "--cluster-tag", "etcd-0123456789abcdef", "--region", "us-east-1"]
      );
      // THEN
      expect(code).toBe(1);
      expect(text).toMatch(
        /^etcd-cluster members: cannot reach the cluster's members through SSM Run Command \(cluster etcd-0123456789abcdef\): .*--transport=direct/
      );
      expect(text).toMatch(/https:\/\/172\.16\.0\.101:2379: aws ec2 describe-instances: .*127\.0\.0\.1:9/);
    } finally {
      process.env = saved;
    }
  });

  test("GIVEN a PKI directory without the admin certificate THEN the error names the file and the flag", async () => {
    const { code, text } = await run("members", "--endpoints", "https://127.0.0.1:9", "--pki", tempDir("no-pki-"));
    expect(code).toBe(1);
    expect(text).toMatch(/cannot read the CA certificate \(--cacert\) .*ca\.pem/);
  });

  test("GIVEN an unknown command THEN usage is printed with exit 2", async () => {
    const { code, text } = await run("frobnicate");
    expect(code).toBe(2);
    expect(text).toMatch(/^usage: etcd-cluster <command>/);
  });
});
