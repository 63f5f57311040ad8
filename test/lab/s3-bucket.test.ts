// The lab provider's aws_s3_bucket against a real S3 server (s3rver, on a Unix socket as the lab
// runs it): the bucket is made with the name Terraform will see, refused deletion while it holds
// objects unless force_destroy, and gone from a refresh once it is gone from S3.
import { createServer, request, type Server } from "node:http";
import { join } from "node:path";
import { labHandlers, type LabCloud } from "../../lib/lab/aws-standin";
import type { Attribute, ProviderSchema } from "../../lib/lab/provider";
import { LabS3Client } from "../../lib/lab/s3-client";
import { temporaryDirectory } from "../support/temp";

// s3rver ships no types.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const S3rver = require("s3rver") as new (options: object) => { callback(): (req: unknown, res: unknown) => void };

const attribute = (computed: boolean): Attribute => ({ type: "string", optional: true, computed, writeOnly: false });
const schema: ProviderSchema = {
  provider: { attributes: {} },
  resources: {
    aws_s3_bucket: {
      attributes: {
        id: attribute(true),
        arn: attribute(true),
        bucket: attribute(true),
        bucket_prefix: attribute(false),
        force_destroy: { type: "bool", optional: true, computed: false, writeOnly: false },
      },
    },
  },
  dataSources: {},
};

const dir = temporaryDirectory("lab-s3-");
let server: Server;
let s3: LabS3Client;
const unused = () => {
  throw new Error("not used by this test");
};
let handlers: ReturnType<typeof labHandlers>;

beforeAll(async () => {
  const socket = join(dir, "s3.sock");
  server = createServer(new S3rver({ directory: join(dir, "data"), silent: true, vhostBuckets: false }).callback());
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  s3 = new LabS3Client(socket);
  const cloud: LabCloud = {
    launch: unused,
    terminate: unused,
    putParameter: unused,
    deleteParameter: unused,
    instanceExists: unused,
    createVolume: unused,
    deleteVolume: unused,
    volumeExists: unused,
    attachVolume: unused,
    detachVolume: unused,
    attachmentExists: unused,
    parameterExists: unused,
    s3,
  };
  handlers = labHandlers(cloud, schema, () => undefined);
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function create(config: Record<string, unknown>): Promise<Record<string, unknown>> {
  const planned = Object.fromEntries(Object.entries(config).filter(([, v]) => v !== null));
  return (await handlers.create!({ type: "aws_s3_bucket", config, planned } as never)) as Record<string, unknown>;
}

test("GIVEN bucket_prefix THEN the bucket is made in S3 under the prefix and a unique lowercase suffix, its name the id and ARN", async () => {
  const a = await create({ bucket: null, bucket_prefix: "etcd-backups-", force_destroy: false });
  const b = await create({ bucket: null, bucket_prefix: "etcd-backups-", force_destroy: false });
  expect(a.bucket).toMatch(/^etcd-backups-[0-9a-z]{26}$/);
  expect(b.bucket).not.toBe(a.bucket);
  expect(a).toMatchObject({ id: a.bucket, arn: `arn:aws:s3:::${a.bucket}` });
  expect(await s3.bucketExists(a.bucket as string)).toBe(true);
});

test("GIVEN a bucket holding an object WHEN it is deleted THEN S3 refuses it (BucketNotEmpty) unless force_destroy, which empties it", async () => {
  const made = await create({ bucket: "lab-not-empty", force_destroy: false });
  await putObject("lab-not-empty", "etcd/x/snapshot.db.gz");
  await expect(handlers.delete!({ type: "aws_s3_bucket", prior: { ...made, force_destroy: false } } as never)).rejects.toThrow(
    /^deleting S3 Bucket \(lab-not-empty\): .*StatusCode: 409, api error BucketNotEmpty: The bucket you tried to delete is not empty/
  );
  expect(await s3.listKeys("lab-not-empty")).toEqual(["etcd/x/snapshot.db.gz"]);
  await handlers.delete!({ type: "aws_s3_bucket", prior: { ...made, force_destroy: true } } as never);
  expect(await s3.bucketExists("lab-not-empty")).toBe(false);
});

test("GIVEN a bucket gone from S3 WHEN Terraform refreshes THEN the resource is gone, so that it is planned again", async () => {
  const made = await create({ bucket: "lab-refreshed", force_destroy: false });
  expect(await handlers.read!({ type: "aws_s3_bucket", state: made } as never)).toEqual({});
  await s3.deleteBucket("lab-refreshed");
  expect(await handlers.read!({ type: "aws_s3_bucket", state: made } as never)).toBeNull();
});

/** An anonymous PutObject over the socket: what a member's upload leaves. */
function putObject(bucket: string, key: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: s3.socketPath, method: "PUT", path: `/${bucket}/${key}`, headers: { host: "s3.lab" } }, (res) => {
      res.resume().on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(`PutObject: ${res.statusCode}`))));
    });
    req.on("error", reject);
    req.end("snapshot");
  });
}
