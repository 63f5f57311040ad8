// `etcd-cluster backup list` against a real S3-compatible server through the real AWS CLI, and the
// refusals of `backup now` that need no cluster. (`backup now` itself runs in the lab: test/real.)
import * as fs from "node:fs";
import * as path from "node:path";
import { main } from "../../lib/cli/main";
import { AWS_CLI, AWS_TEST_ENV, execAsync, startS3Server, type S3Server } from "../support/s3-server";
import { temporaryDirectory } from "../support/temp";

const PREFIX = "etcd/etcd-0123456789abcdef";
let s3: S3Server;
const saved = { ...process.env };

beforeAll(async () => {
  s3 = await startS3Server(["backups"]);
  Object.assign(process.env, AWS_TEST_ENV, { ETCD_CLUSTER_AWS_CLI: AWS_CLI });
  const dir = temporaryDirectory("backup-list-");
  const put = async (key: string, bytes: number) => {
    const file = path.join(dir, "object");
    fs.writeFileSync(file, Buffer.alloc(bytes, 1));
    const r = await execAsync(AWS_CLI, ["--region", "us-east-1", "--endpoint-url", s3.url, "s3", "cp", file, `s3://backups/${key}`]);
    expect(r.status).toBe(0);
  };
  await put(`${PREFIX}/20261203T081228Z-etcd_node1-rev11.snapshot.db.gz`, 8693);
  await put(`${PREFIX}/20261203T081228Z-etcd_node1-rev11.json`, 10);
  await put(`${PREFIX}/20261203T083000Z-etcd_node2-rev40.snapshot.db.gz`, 9001);
  await put("etcd/another-cluster/20261203T090000Z-etcd_node1-rev5.snapshot.db.gz", 1);
}, 60_000);

afterAll(async () => {
  process.env = saved;
  await s3?.close();
});

async function cli(...args: string[]): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await main(args, (l) => lines.push(l));
  return { code, lines };
}

test("GIVEN snapshots under a prefix WHEN listed THEN newest first, with member, revision and size, and the one without metadata marked", async () => {
  const { code, lines } = await cli(
    "backup",
    "list",
    "--location",
    `s3://backups/${PREFIX}/`,
    "--region",
    "us-east-1",
    "--endpoint-url",
    s3.url
  );
  expect(lines).toEqual([
    `2026-12-03T08:30:00Z  etcd_node2  revision 40  9001 bytes  s3://backups/${PREFIX}/20261203T083000Z-etcd_node2-rev40.snapshot.db.gz  (no metadata: an upload that did not finish)`,
    `2026-12-03T08:12:28Z  etcd_node1  revision 11  8693 bytes  s3://backups/${PREFIX}/20261203T081228Z-etcd_node1-rev11.snapshot.db.gz`,
  ]);
  expect(code).toBe(0);
});

test("GIVEN an empty prefix WHEN listed THEN it says so", async () => {
  const { code, lines } = await cli(
    "backup",
    "list",
    "--location",
    "s3://backups/etcd/none",
    "--region",
    "us-east-1",
    "--endpoint-url",
    s3.url
  );
  expect(lines).toEqual(["no snapshots under s3://backups/etcd/none/"]);
  expect(code).toBe(0);
});

test("GIVEN a bucket that does not exist WHEN listed THEN it fails with the store's error", async () => {
  const { code, lines } = await cli(
    "backup",
    "list",
    "--location",
    "s3://no-such-bucket/etcd/",
    "--region",
    "us-east-1",
    "--endpoint-url",
    s3.url
  );
  expect(lines).toEqual([expect.stringMatching(/^etcd-cluster backup: cannot list s3:\/\/no-such-bucket\/etcd\/: .*NoSuchBucket/)]);
  expect(code).toBe(1);
});

test.each([
  [["backup"], /backup needs now or list/],
  [["backup", "list"], /backup list needs --location s3:\/\/BUCKET\/PREFIX\//],
  [
    ["backup", "now", "--endpoints", "https://127.0.0.1:2379", "--pki", "/nonexistent"],
    /backup now runs etcd-backup on a member through SSM Run Command: give --transport=ssm/,
  ],
])("GIVEN %j THEN a usage error says what is missing", async (args, message) => {
  const { code, lines } = await cli(...args);
  expect(lines.join("\n")).toMatch(message);
  expect(code).toBe(2);
});
