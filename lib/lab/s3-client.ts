import { request } from "node:http";

/** S3 refused a call: its error code (NoSuchBucket, BucketNotEmpty, ...) and HTTP status. */
export class S3CallError extends Error {
  constructor(readonly operation: string, readonly code: string, readonly status: number, message: string) {
    super(message);
  }
}

/** An S3 call's answer: the status, and the body (an object's bytes, or S3's XML). */
interface S3Response {
  readonly status: number;
  readonly body: Buffer;
}

/** S3's error code and message from its XML error body. */
function s3Error(response: S3Response): { code: string; message: string } {
  const text = response.body.toString("utf8");
  return {
    code: /<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? `HTTP ${response.status}`,
    message: /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? "",
  };
}

function decodeXml(text: string): string {
  return text
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");
}

/**
 * The lab's S3 as the host uses it (the provider's bucket handlers, tests): plain S3 REST calls,
 * unsigned (s3rver serves anonymous calls), over the Unix socket the lab's S3 also listens on, so
 * that nothing on the host talks to the lab's addresses.
 */
export class LabS3Client {
  constructor(readonly socketPath: string) {}

  async createBucket(bucket: string): Promise<void> {
    const r = await this.call("PUT", `/${bucket}`);
    if (r.status !== 200) this.fail("CreateBucket", bucket, r);
  }

  async bucketExists(bucket: string): Promise<boolean> {
    const r = await this.call("HEAD", `/${bucket}`);
    if (r.status === 404) return false;
    if (r.status !== 200) this.fail("HeadBucket", bucket, r);
    return true;
  }

  /** Deletes the bucket; refused by S3 (BucketNotEmpty) while it holds objects, unless `force` deletes them first. */
  async deleteBucket(bucket: string, options: { force?: boolean } = {}): Promise<void> {
    if (options.force) for (const key of await this.listKeys(bucket)) await this.deleteObject(bucket, key);
    const r = await this.call("DELETE", `/${bucket}`);
    if (r.status !== 204 && r.status !== 200) this.fail("DeleteBucket", bucket, r);
  }

  /** Every key under `prefix`, in S3's order (ListObjectsV2, page after page). */
  async listKeys(bucket: string, prefix = ""): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const query = new URLSearchParams({ "list-type": "2", prefix, ...(token ? { "continuation-token": token } : {}) });
      const r = await this.call("GET", `/${bucket}?${query}`);
      if (r.status !== 200) this.fail("ListObjectsV2", bucket, r);
      const xml = r.body.toString("utf8");
      for (const m of xml.matchAll(/<Key>([^<]*)<\/Key>/g)) keys.push(decodeXml(m[1]));
      token = /<IsTruncated>true<\/IsTruncated>/.test(xml) ? decodeXml(/<NextContinuationToken>([^<]*)</.exec(xml)?.[1] ?? "") : undefined;
    } while (token);
    return keys;
  }

  async getObject(bucket: string, key: string): Promise<Buffer> {
    const r = await this.call("GET", this.objectPath(bucket, key));
    if (r.status !== 200) this.fail("GetObject", `${bucket}/${key}`, r);
    return r.body;
  }

  /** The object's tags (GetObjectTagging), as a map. */
  async getObjectTags(bucket: string, key: string): Promise<Record<string, string>> {
    const r = await this.call("GET", `${this.objectPath(bucket, key)}?tagging`);
    if (r.status !== 200) this.fail("GetObjectTagging", `${bucket}/${key}`, r);
    const tags: Record<string, string> = {};
    for (const m of r.body.toString("utf8").matchAll(/<Tag><Key>([^<]*)<\/Key><Value>([^<]*)<\/Value><\/Tag>/g))
      tags[decodeXml(m[1])] = decodeXml(m[2]);
    return tags;
  }

  async deleteObject(bucket: string, key: string): Promise<void> {
    const r = await this.call("DELETE", this.objectPath(bucket, key));
    if (r.status !== 204 && r.status !== 200) this.fail("DeleteObject", `${bucket}/${key}`, r);
  }

  private objectPath(bucket: string, key: string): string {
    return `/${bucket}/${key.split("/").map(encodeURIComponent).join("/")}`;
  }

  /** Throws as the AWS SDK words it, so that Terraform's output reads as against AWS. */
  private fail(operation: string, what: string, r: S3Response): never {
    const { code, message } = s3Error(r);
    throw new S3CallError(
      operation,
      code,
      r.status,
      `operation error S3: ${operation} (${what}), https response error StatusCode: ${r.status}, api error ${code}: ${message}`
    );
  }

  private call(method: string, path: string): Promise<S3Response> {
    return new Promise((resolve, reject) => {
      const req = request({ socketPath: this.socketPath, method, path, headers: { host: "s3.lab" } }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (d: Buffer) => chunks.push(d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end();
    });
  }
}
