// SSM Parameter Store's JSON 1.1 API on loopback, as much of it as `etcd-cluster pki` uses, for the
// real AWS CLI to talk to: PutParameter (with Overwrite's refusal) and GetParametersByPath (one level,
// paged by NextToken as SSM pages, at most 10 a page). Values are kept as given: it stands in for
// the API, not for KMS.
import * as http from "node:http";
import type { AddressInfo } from "node:net";

export interface StoredParameter {
  readonly value: string;
  readonly type: string;
  readonly keyId?: string;
  readonly version: number;
}

export interface SsmStandin {
  readonly url: string;
  readonly parameters: Map<string, StoredParameter>;
  /** Every API call, by its X-Amz-Target action. */
  readonly calls: string[];
  close(): Promise<void>;
}

const PAGE = 10;

export async function startSsmStandin(): Promise<SsmStandin> {
  const parameters = new Map<string, StoredParameter>();
  const calls: string[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8").on("data", (d: string) => (body += d));
    req.on("end", () => {
      const action = String(req.headers["x-amz-target"] ?? "").replace(/^AmazonSSM\./, "");
      calls.push(action);
      const reply = (status: number, payload: object) => {
        res.writeHead(status, { "content-type": "application/x-amz-json-1.1" }).end(JSON.stringify(payload));
      };
      const input = JSON.parse(body || "{}");
      if (action === "PutParameter") {
        const previous = parameters.get(input.Name);
        if (previous && !input.Overwrite) return reply(400, { __type: "ParameterAlreadyExists", message: `${input.Name} exists` });
        const version = (previous?.version ?? 0) + 1;
        parameters.set(input.Name, { value: input.Value, type: input.Type, keyId: input.KeyId, version });
        return reply(200, { Version: version, Tier: "Standard" });
      }
      if (action === "GetParametersByPath") {
        const path = String(input.Path).replace(/\/$/, "");
        const names = [...parameters.keys()].filter((n) => n.startsWith(`${path}/`) && !n.slice(path.length + 1).includes("/")).sort();
        const start = Number(input.NextToken ?? 0);
        const page = names.slice(start, start + Math.min(input.MaxResults ?? PAGE, PAGE));
        return reply(200, {
          Parameters: page.map((name) => ({
            Name: name,
            Type: parameters.get(name)!.type,
            Value: parameters.get(name)!.value,
            Version: parameters.get(name)!.version,
          })),
          ...(start + page.length < names.length ? { NextToken: String(start + page.length) } : {}),
        });
      }
      reply(400, { __type: "InvalidAction", message: `${action} is not part of this stand-in` });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    parameters,
    calls,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
