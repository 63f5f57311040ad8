// A real S3-compatible server (s3rver, from the npm registry) on loopback, for tests that run the
// real AWS CLI's uploads and downloads; and a loopback CloudWatch that records PutMetricData.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { temporaryDirectory } from "./temp";
import { requireTool } from "./tools";

// s3rver ships no types.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const S3rver = require("s3rver") as new (options: object) => { run(): Promise<AddressInfo>; close(): Promise<void> };

export interface S3Server {
  readonly url: string;
  close(): Promise<void>;
}

/** s3rver with the given buckets, storing under a temporary directory this test file removes. */
export async function startS3Server(buckets: string[]): Promise<S3Server> {
  const directory = path.join(temporaryDirectory("s3rver-"), "data");
  const server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    directory,
    silent: true,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  const { port } = await server.run();
  return { url: `http://127.0.0.1:${port}`, close: () => server.close() };
}

export interface MetricSink {
  readonly url: string;
  /** MetricName=Value of each datum received, in order. */
  readonly metrics: string[];
  close(): Promise<void>;
}

/** Answers CloudWatch's PutMetricData (query protocol) and records each datum. */
export async function startMetricSink(): Promise<MetricSink> {
  const metrics: string[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8").on("data", (d) => (body += d));
    req.on("end", () => {
      const form = new URLSearchParams(body);
      for (let i = 1; form.has(`MetricData.member.${i}.MetricName`); i++) {
        metrics.push(`${form.get(`MetricData.member.${i}.MetricName`)}=${form.get(`MetricData.member.${i}.Value`)}`);
      }
      res.writeHead(200, { "content-type": "text/xml" });
      res.end(
        `<PutMetricDataResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"><ResponseMetadata><RequestId>0</RequestId></ResponseMetadata></PutMetricDataResponse>`
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, metrics, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** Debian's AWS CLI first: a PATH may put another (a pyenv shim, an old v1) before it. */
export const AWS_CLI = existsSync("/usr/bin/aws") ? "/usr/bin/aws" : requireTool("aws", "awscli");

/**
 * What the tests' AWS CLI runs with: credentials of no account (s3rver's; the lab's endpoints check
 * no signature), one attempt per call, and none of this machine's AWS configuration.
 */
export const AWS_TEST_ENV: Readonly<Record<string, string>> = {
  PATH: `${path.dirname(AWS_CLI)}:/usr/bin:/bin`,
  AWS_ACCESS_KEY_ID: "S3RVER",
  AWS_SECRET_ACCESS_KEY: "S3RVER",
  AWS_CONFIG_FILE: "/dev/null",
  AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
  AWS_EC2_METADATA_DISABLED: "true",
  AWS_MAX_ATTEMPTS: "1",
};

export interface Ran {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a command in AWS_TEST_ENV without blocking this process: the S3 server and the metric
 * sink answer from this same event loop, so a synchronous spawn would wait on itself.
 */
export function execAsync(command: string, args: string[], extraEnv: Record<string, string> = {}): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(command, args, { encoding: "utf8", env: { ...AWS_TEST_ENV, ...extraEnv }, timeout: 120_000 }, (error, stdout, stderr) =>
      resolve({ status: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr })
    );
  });
}

/** The keys under `prefix` in `bucket`, through the AWS CLI. */
export async function listKeys(server: S3Server, bucket: string, prefix: string): Promise<string[]> {
  const args = ["--region", "us-east-1", "--endpoint-url", server.url, "s3api", "list-objects-v2", "--bucket", bucket, "--prefix", prefix];
  const listed = await execAsync(AWS_CLI, [...args, "--query", "Contents[].Key", "--output", "json"]);
  if (listed.status !== 0) throw new Error(`list-objects-v2 failed: ${listed.stderr}`);
  return (JSON.parse(listed.stdout || "null") as string[] | null) ?? [];
}
