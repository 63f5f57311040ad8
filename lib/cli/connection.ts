// Where the operator CLI finds the cluster: flags, a synthesized stack's outputs, or etcdctl's env.
import * as fs from "node:fs";
import * as path from "node:path";

export interface Connection {
  readonly endpoints: string[];
  readonly cacert: string;
  readonly cert: string;
  readonly key: string;
  /**
   * "direct": this machine dials the endpoints with the admin certificate. "ssm": Run Command on
   * the member at each endpoint's address, found by the cluster's etcd:cluster tag.
   */
  readonly transport: "direct" | "ssm";
  readonly clusterTag?: string;
  readonly region?: string;
}

export interface ConnectionFlags {
  readonly endpoints?: string;
  readonly pki?: string;
  readonly stack?: string;
  readonly transport?: string;
  readonly "cluster-tag"?: string;
  readonly region?: string;
}

export class UsageError extends Error {}

/**
 * --endpoints and --pki win; then --stack (the outputs EtcdCluster synthesizes); then
 * ETCDCTL_ENDPOINTS / ETCDCTL_CACERT / ETCDCTL_CERT / ETCDCTL_KEY, as etcdctl itself reads them.
 */
export function resolveConnection(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): Connection {
  const transport = flags.transport ?? "direct";
  if (transport !== "direct" && transport !== "ssm") {
    throw new UsageError(
      `--transport is ${JSON.stringify(
        transport
      )}: use "direct" (from inside the VPC) or "ssm" (Run Command on the members, with AWS credentials)`
    );
  }
  const stack = flags.stack ? readStack(flags.stack) : undefined;
  const fromStack = stack?.etcdctl;
  const pkiFile = (name: string) => (flags.pki ? path.join(flags.pki, name) : undefined);
  const connection = {
    endpoints: (flags.endpoints ?? fromStack?.ETCDCTL_ENDPOINTS ?? env.ETCDCTL_ENDPOINTS ?? "").split(",").filter(Boolean),
    cacert: pkiFile("ca.pem") ?? fromStack?.ETCDCTL_CACERT ?? env.ETCDCTL_CACERT ?? "",
    cert: pkiFile("admin.pem") ?? fromStack?.ETCDCTL_CERT ?? env.ETCDCTL_CERT ?? "",
    key: pkiFile("admin-key.pem") ?? fromStack?.ETCDCTL_KEY ?? env.ETCDCTL_KEY ?? "",
  };
  const missing = Object.entries(connection)
    .filter(([, v]) => v.length === 0)
    .map(([k]) => k);
  if (missing.length > 0) {
    throw new UsageError(
      `don't know the cluster's ${missing.join(
        ", "
      )}: give --stack cdktf.out/stacks/<stack>, or --endpoints URL,URL and --pki <PKI directory>, or export the etcdctl_environment output`
    );
  }
  if (transport === "direct") return { ...connection, transport };
  const clusterTag = flags["cluster-tag"] ?? stack?.clusterTag;
  if (!clusterTag) {
    throw new UsageError(
      "--transport=ssm finds the members by their etcd:cluster tag: give --stack cdktf.out/stacks/<stack>, or --cluster-tag etcd-<16 hex digits>"
    );
  }
  // Else the AWS CLI's own configuration (AWS_REGION, the profile) decides.
  return { ...connection, transport, clusterTag, region: flags.region ?? stack?.region };
}

interface StackFacts {
  /** The etcdctl_environment output an EtcdCluster puts in the synthesized cdk.tf.json. */
  readonly etcdctl: Record<string, string>;
  /** The members' etcd:cluster tag, as their aws_instance resources carry it. */
  readonly clusterTag?: string;
  /** The aws provider's region, when the stack gives it literally. */
  readonly region?: string;
}

function readStack(stackDir: string): StackFacts {
  const file = path.join(stackDir, "cdk.tf.json");
  let config: {
    output?: Record<string, { value?: unknown }>;
    resource?: { aws_instance?: Record<string, { tags?: Record<string, string> }> };
    provider?: { aws?: { region?: string }[] };
  };
  try {
    config = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}; run cdktf synth first`);
  }
  const outputs = Object.entries(config.output ?? {}).filter(([name]) => name.endsWith("etcdctl_environment"));
  if (outputs.length !== 1) {
    throw new UsageError(
      `${file} has ${outputs.length} EtcdCluster outputs named *_etcdctl_environment: give --endpoints and --pki instead`
    );
  }
  const vars: Record<string, string> = {};
  for (const line of String(outputs[0][1].value).split("\n")) {
    const match = /^export (ETCDCTL_[A-Z]+)=(.*)$/.exec(line);
    if (match) vars[match[1]] = match[2];
  }
  const tags = new Set(Object.values(config.resource?.aws_instance ?? {}).flatMap((i) => i.tags?.["etcd:cluster"] ?? []));
  const region = config.provider?.aws?.[0]?.region;
  return {
    etcdctl: vars,
    clusterTag: tags.size === 1 ? [...tags][0] : undefined,
    region: region && !region.includes("${") ? region : undefined,
  };
}
