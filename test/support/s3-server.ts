// A real S3-compatible server (s3rver, from the npm registry) on loopback, for tests that run the
// real AWS CLI's uploads and downloads; and a loopback CloudWatch that records PutMetricData.
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { temporaryDirectory } from "./temp";

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
