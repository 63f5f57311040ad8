// The operator CLI's etcd client over the connection's transport: the same client, transports and
// Run Command handling the deploy's membership steps use.
import { ON_MEMBER_CLIENT } from "../host/member-user-data";
import { clientFromFlags, EtcdClient, EtcdUnreachableError } from "../membership/etcd-membership";
import type { Connection } from "./connection";

export function clientFor(connection: Connection, log: (line: string) => void, env: NodeJS.ProcessEnv = process.env): EtcdClient {
  const endpoints = connection.endpoints.join(",");
  if (connection.transport === "direct") {
    const { cacert, cert, key } = connection;
    return clientFromFlags({ endpoints, transport: "direct", cacert, cert, key }, env, log);
  }
  const flags: Record<string, string> = {
    endpoints,
    transport: "ssm",
    "cluster-tag": connection.clusterTag!,
    "on-member-url": ON_MEMBER_CLIENT.url,
    "on-member-cacert": ON_MEMBER_CLIENT.cacert,
    "on-member-cert": ON_MEMBER_CLIENT.cert,
    "on-member-key": ON_MEMBER_CLIENT.key,
  };
  if (connection.region) flags.region = connection.region;
  return clientFromFlags(flags, env, log);
}

/**
 * When no endpoint answered at all: says so plainly and names the other transport, before each
 * endpoint's own reason. A TLS error from whatever answers at a private address (another network's
 * host, a captive proxy) would otherwise read as a problem with the certificates.
 */
export function unreachableMessage(err: unknown, connection: Connection): string | undefined {
  if (!(err instanceof EtcdUnreachableError)) return undefined;
  const reasons = err.reasons.map((r) => `  ${r}`).join("\n");
  if (connection.transport === "direct") {
    return (
      `cannot reach the cluster's members from this machine: no member answered as a member of this cluster. ` +
      `It may have no route into the cluster's VPC, or something else answers at those addresses. ` +
      `From outside the VPC, use --transport=ssm (Run Command on the members, with AWS credentials only).\n${reasons}`
    );
  }
  return (
    `cannot reach the cluster's members through SSM Run Command (cluster ${connection.clusterTag}): no member ran the request. ` +
    `Check the instances run, are managed by SSM and are tagged etcd:cluster=${connection.clusterTag}; ` +
    `from inside the VPC, --transport=direct needs no SSM.\n${reasons}`
  );
}
