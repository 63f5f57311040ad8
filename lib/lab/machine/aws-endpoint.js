// The lab's stand-in for what an EC2 instance reaches at 169.254.169.254 and beyond: instance
// metadata (IMDSv2, with the role's credentials), the calls members make with the real AWS CLI
// (SSM GetParameter, CloudWatch PutMetricData, and S3: see lab-s3.js), a release mirror in the
// official download layout, and SSM Run Command: the deployer's AWS CLI sends commands (SSM's JSON 1.1
// API, and EC2's DescribeInstances to find the instance), each machine's agent (ssm-agent.ts)
// polls for them and reports their results. It runs in the deployer's network namespace, where
// the address sits on `lo`; each machine routes it via the deployer. An instance is known by its
// source address, as EC2 knows it by its network interface. Plain JavaScript, so that node runs it as it is from lib/
// and dist/. Usage: node aws-endpoint.js CONFIG.json (re-read on each request: the lab edits it
// as instances come and go).
"use strict";
const { appendFileSync, createReadStream, readFileSync, statSync } = require("node:fs");
const { createServer } = require("node:http");
const { randomBytes, randomUUID } = require("node:crypto");
const { join, normalize } = require("node:path");
const { gunzipSync } = require("node:zlib");
const { startLabS3 } = require("./lab-s3");

/**
 * @typedef {{ instanceId: string, member: string, tags: Record<string, string>, state: "running" | "stopped" }} EndpointInstance
 * @typedef {{ region: string, instances: Record<string, EndpointInstance>, parameters: Record<string, string>, releasesDirs: string[],
 *   metricsFile: string, s3: { dir: string, socket: string, port: number } }} EndpointConfig
 */

const configFile = process.argv[2];
const port = Number(process.argv[3] ?? 80);
/** @type {Map<string, number>} IMDSv2 session tokens and when they expire */
const tokens = new Map();
// Every member's role hands out the same key pair: the lab's S3 checks signatures by it (so a call
// made without instance metadata's credentials fails), and nothing here tells roles apart.
const ROLE = "etcd-lab-member";
const MEMBER_KEY = { AccessKeyId: "ASIALABMEMBER0000000", SecretAccessKey: "lab-member-secret" };

/** @returns {EndpointConfig} */
function config() {
  return JSON.parse(readFileSync(configFile, "utf8"));
}

/**
 * @param {import("node:http").ServerResponse} res
 * @param {number} status
 * @param {string} body
 */
function reply(res, status, body) {
  res.writeHead(status, { "content-type": "text/plain" });
  res.end(body);
}

/**
 * @param {import("node:http").IncomingMessage} req
 * @param {import("node:http").ServerResponse} res
 * @param {EndpointConfig} cfg
 * @param {EndpointInstance} instance
 * @param {URL} url
 */
function metadata(req, res, cfg, instance, url) {
  if (req.method === "PUT" && url.pathname === "/latest/api/token") {
    const ttl = Number(req.headers["x-aws-ec2-metadata-token-ttl-seconds"]);
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21600) return reply(res, 400, "");
    const token = randomBytes(24).toString("base64");
    tokens.set(token, Date.now() + ttl * 1000);
    return reply(res, 200, token);
  }
  const token = req.headers["x-aws-ec2-metadata-token"];
  const expires = typeof token === "string" ? tokens.get(token) : undefined;
  // IMDSv2 only (HttpTokens=required, as the construct sets it): no token, no metadata.
  if (expires === undefined || expires < Date.now()) return reply(res, 401, "");
  const values = {
    "/latest/meta-data/instance-id": instance.instanceId,
    "/latest/meta-data/placement/region": cfg.region,
    "/latest/meta-data/tags/instance/etcd:member": instance.member,
  };
  const value = /** @type {Record<string, string>} */ (values)[url.pathname];
  if (value !== undefined) return reply(res, 200, value);
  if (url.pathname === "/latest/meta-data/iam/security-credentials/") return reply(res, 200, ROLE);
  if (url.pathname === `/latest/meta-data/iam/security-credentials/${ROLE}`) {
    const now = new Date();
    return reply(
      res,
      200,
      JSON.stringify({
        Code: "Success",
        LastUpdated: now.toISOString().replace(/\.\d+Z$/, "Z"),
        Type: "AWS-HMAC",
        ...MEMBER_KEY,
        Token: Buffer.from(`lab session of ${instance.instanceId}`).toString("base64"),
        // Hours ahead, as EC2 rotates them: the CLI refreshes only near the expiry.
        Expiration: new Date(now.getTime() + 6 * 3600_000).toISOString().replace(/\.\d+Z$/, "Z"),
      })
    );
  }
  return reply(res, 404, "");
}

/** The region a SigV4 request was signed for (its credential scope), as AWS routes it by its endpoint. */
/** @param {import("node:http").IncomingMessage} req */
function signedRegion(req) {
  return /Credential=[^/]+\/\d{8}\/([^/]+)\//.exec(String(req.headers.authorization ?? ""))?.[1] ?? "";
}

/**
 * SSM GetParameter: the stack's parameters live in the lab's one region, and any instance may read
 * any of them (the lab does not enforce IAM).
 * @param {import("node:http").ServerResponse} res @param {EndpointConfig} cfg @param {string} region @param {any} input
 */
function getParameter(res, cfg, region, input) {
  const name = String(input.Name ?? "");
  const notFound = () => jsonError(res, "ParameterNotFound", `Parameter ${name} not found.`);
  const file = region === cfg.region ? cfg.parameters[name] : undefined;
  if (file === undefined) return notFound();
  let value, modified;
  try {
    value = readFileSync(file, "utf8");
    modified = statSync(file).mtimeMs / 1000;
  } catch {
    return notFound();
  }
  return json(res, 200, {
    Parameter: {
      Name: name,
      Type: "SecureString",
      Value: value,
      Version: 1,
      LastModifiedDate: modified,
      ARN: `arn:aws:ssm:${region}:000000000000:parameter/${name.replace(/^\//, "")}`,
      DataType: "text",
    },
  });
}

/**
 * CloudWatch PutMetricData (the query protocol): each datum is appended to the metrics file, one
 * JSON object a line, for the lab's tests to read.
 * @param {import("node:http").ServerResponse} res @param {EndpointConfig} cfg @param {EndpointInstance} instance @param {URLSearchParams} form
 */
function putMetricData(res, cfg, instance, form) {
  const at = new Date().toISOString();
  const lines = [];
  for (let i = 1; form.has(`MetricData.member.${i}.MetricName`); i++) {
    const datum = `MetricData.member.${i}`;
    /** @type {Record<string, string>} */
    const dimensions = {};
    for (let j = 1; form.has(`${datum}.Dimensions.member.${j}.Name`); j++) {
      dimensions[String(form.get(`${datum}.Dimensions.member.${j}.Name`))] = String(form.get(`${datum}.Dimensions.member.${j}.Value`));
    }
    const value = Number(form.get(`${datum}.Value`));
    const metric = {
      at,
      member: instance.member,
      instanceId: instance.instanceId,
      namespace: form.get("Namespace"),
      name: form.get(`${datum}.MetricName`),
      value,
      unit: form.get(`${datum}.Unit`),
      dimensions,
    };
    lines.push(JSON.stringify(metric) + "\n");
  }
  appendFileSync(cfg.metricsFile, lines.join(""));
  res.writeHead(200, { "content-type": "text/xml" });
  res.end(
    `<PutMetricDataResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></PutMetricDataResponse>`
  );
}

/**
 * What a member's role may call with the real AWS CLI: SSM's GetParameter (JSON 1.1) and
 * CloudWatch's PutMetricData (query protocol). The rest of the account's API is the deployer's.
 * @param {import("node:http").IncomingMessage} req @param {import("node:http").ServerResponse} res @param {EndpointConfig} cfg @param {EndpointInstance} instance
 */
function memberApi(req, res, cfg, instance) {
  /** @type {Buffer[]} */
  const chunks = [];
  req.on("data", (d) => chunks.push(d));
  req.on("end", () => {
    let raw = Buffer.concat(chunks);
    if (req.headers["content-encoding"] === "gzip") raw = gunzipSync(raw);
    const body = raw.toString("utf8");
    const target = String(req.headers["x-amz-target"] ?? "");
    if (target) {
      res.setHeader("x-lab-action", target);
      if (target !== "AmazonSSM.GetParameter")
        return json(res, 400, { __type: "AccessDeniedException", message: `the member role may not call ${target} in the lab` });
      let input;
      try {
        input = JSON.parse(body || "{}");
      } catch {
        return jsonError(res, "SerializationException", "the body is not JSON");
      }
      return getParameter(res, cfg, signedRegion(req), input);
    }
    const form = new URLSearchParams(body);
    const action = form.get("Action") ?? "?";
    res.setHeader("x-lab-action", `query:${action}`);
    if (action === "PutMetricData") return putMetricData(res, cfg, instance, form);
    res.writeHead(403, { "content-type": "text/xml" });
    res.end(
      `<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>the member role may not call ${xml(
        action
      )} in the lab</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`
    );
  });
}

/**
 * @param {import("node:http").ServerResponse} res
 * @param {EndpointConfig} cfg
 * @param {URL} url
 */
function release(res, cfg, url) {
  const relative = normalize(decodeURIComponent(url.pathname.slice("/etcd-releases/".length)));
  if (relative.startsWith("..") || relative.startsWith("/")) return reply(res, 404, "");
  // Each release has a mirror of its own (a cache keyed by its binaries): the first that has the file serves it.
  let file = "";
  let size = -1;
  for (const dir of cfg.releasesDirs) {
    try {
      const stat = statSync(join(dir, relative));
      if (stat.isFile()) [file, size] = [join(dir, relative), stat.size];
    } catch {
      continue;
    }
    if (size >= 0) break;
  }
  if (size < 0) return reply(res, 404, "");
  res.writeHead(200, { "content-type": "application/gzip", "content-length": size });
  createReadStream(file).pipe(res);
}

// ---- SSM Run Command ----------------------------------------------------------------------

/**
 * @typedef {{ commandId: string, instanceId: string, script: string, executionTimeout: number, deliverBy: number,
 *   createdAt: number, visibleAt: number, status: string, details: string, deliveredAt?: number, responseCode: number,
 *   stdout: string, stderr: string, comment: string, documentName: string }} Invocation
 */
/** @type {Map<string, Invocation>} by command id (one instance per command: what the membership steps send) */
const invocations = new Map();
/** @type {Map<string, number>} instance id to its agent's last poll */
const agentSeen = new Map();
/** @type {Map<string, () => void>} instance id to a waiting agent's wake-up */
const agentWaiting = new Map();
// SSM creates an invocation asynchronously: right after SendCommand, GetCommandInvocation answers
// InvocationDoesNotExist for a moment. Clients must wait that out, and here they always have to.
const INVOCATION_APPEARS_MS = 200;
// What GetCommandInvocation returns of the output, as SSM truncates it.
const STDOUT_LIMIT = 24000;
const STDERR_LIMIT = 8000;

/** @param {import("node:http").ServerResponse} res @param {number} status @param {object} payload */
function json(res, status, payload) {
  res.writeHead(status, { "content-type": "application/x-amz-json-1.1" });
  res.end(JSON.stringify(payload));
}

/** @param {import("node:http").ServerResponse} res @param {string} type @param {string} message */
function jsonError(res, type, message) {
  json(res, 400, { __type: type, message });
}

/** @param {EndpointConfig} cfg @param {string} instanceId */
function instanceById(cfg, instanceId) {
  return Object.entries(cfg.instances).find(([, i]) => i.instanceId === instanceId);
}

/** Moves an invocation on by the clock: delivery deadlines pass, terminated instances never run it. */
/** @param {EndpointConfig} cfg @param {Invocation} inv */
function advance(cfg, inv) {
  const now = Date.now();
  if (inv.status === "Pending" || inv.status === "Delayed") {
    if (!instanceById(cfg, inv.instanceId)) Object.assign(inv, { status: "Failed", details: "Undeliverable", responseCode: -1 });
    else if (now > inv.deliverBy) Object.assign(inv, { status: "TimedOut", details: "DeliveryTimedOut", responseCode: -1 });
  }
  if (inv.status === "InProgress" && inv.deliveredAt && now > inv.deliveredAt + (inv.executionTimeout + 30) * 1000) {
    // The agent never reported (its machine went down mid-command).
    Object.assign(inv, { status: "TimedOut", details: "ExecutionTimedOut", responseCode: -1 });
  }
}

/** @param {import("node:http").ServerResponse} res @param {EndpointConfig} cfg @param {string} action @param {any} input */
function ssmApi(res, cfg, action, input) {
  if (action === "SendCommand") {
    const ids = input.InstanceIds ?? [];
    if (input.Targets) return jsonError(res, "InvalidParameters", "the lab models SendCommand with InstanceIds only");
    if (ids.length !== 1) return jsonError(res, "InvalidParameters", "the lab models SendCommand to exactly one instance");
    if (input.DocumentName !== "AWS-RunShellScript")
      return jsonError(res, "InvalidDocument", `${input.DocumentName}: the lab runs AWS-RunShellScript only`);
    const found = instanceById(cfg, ids[0]);
    // SSM knows an instance once its agent has registered; until then, or once it is gone, it refuses.
    if (!found || !agentSeen.has(ids[0]))
      return jsonError(res, "InvalidInstanceId", "Instances [[" + ids[0] + "]] not in a valid state for account 000000000000");
    const commands = input.Parameters?.commands ?? [];
    const timeoutSeconds = Number(input.TimeoutSeconds ?? 3600);
    if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 30 || timeoutSeconds > 2592000) {
      return jsonError(
        res,
        "ValidationException",
        "1 validation error detected: Value at 'timeoutSeconds' failed to satisfy constraint: Member must have value greater than or equal to 30"
      );
    }
    const now = Date.now();
    const commandId = randomUUID();
    invocations.set(commandId, {
      commandId,
      instanceId: ids[0],
      script: commands.join("\n"),
      executionTimeout: Number(input.Parameters?.executionTimeout?.[0] ?? 3600),
      deliverBy: now + timeoutSeconds * 1000,
      createdAt: now,
      visibleAt: now + INVOCATION_APPEARS_MS,
      status: "Pending",
      details: "Pending",
      responseCode: -1,
      stdout: "",
      stderr: "",
      comment: input.Comment ?? "",
      documentName: input.DocumentName,
    });
    agentWaiting.get(ids[0])?.();
    return json(res, 200, {
      Command: {
        CommandId: commandId,
        DocumentName: input.DocumentName,
        InstanceIds: ids,
        Status: "Pending",
        Comment: input.Comment ?? "",
        TimeoutSeconds: timeoutSeconds,
      },
    });
  }
  if (action === "GetCommandInvocation") {
    const inv = invocations.get(input.CommandId);
    if (!inv || inv.instanceId !== input.InstanceId || Date.now() < inv.visibleAt) return jsonError(res, "InvocationDoesNotExist", "");
    advance(cfg, inv);
    return json(res, 200, {
      CommandId: inv.commandId,
      InstanceId: inv.instanceId,
      Comment: inv.comment,
      DocumentName: inv.documentName,
      PluginName: "aws:runShellScript",
      ResponseCode: inv.responseCode,
      Status: inv.status,
      StatusDetails: inv.details,
      StandardOutputContent: inv.stdout.slice(0, STDOUT_LIMIT),
      StandardErrorContent: inv.stderr.slice(0, STDERR_LIMIT),
    });
  }
  if (action === "CancelCommand") {
    const inv = invocations.get(input.CommandId);
    if (!inv) return jsonError(res, "InvalidCommandId", "");
    if (inv.status === "Pending" || inv.status === "Delayed" || inv.status === "InProgress")
      Object.assign(inv, { status: "Cancelled", details: "Cancelled" });
    return json(res, 200, {});
  }
  return jsonError(res, "InvalidAction", `${action} is not modelled by the lab`);
}

/** @param {string} text */
function xml(text) {
  return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** EC2's query API, DescribeInstances only, with the filters the membership steps use. */
/** @param {import("node:http").ServerResponse} res @param {EndpointConfig} cfg @param {URLSearchParams} form */
function ec2Api(res, cfg, form) {
  const reply = (/** @type {number} */ status, /** @type {string} */ body) => {
    res.writeHead(status, { "content-type": "text/xml;charset=UTF-8" });
    res.end(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`);
  };
  const action = form.get("Action");
  if (action !== "DescribeInstances") {
    return reply(
      400,
      `<Response><Errors><Error><Code>InvalidAction</Code><Message>${xml(
        action ?? ""
      )} is not modelled by the lab</Message></Error></Errors><RequestID>${randomUUID()}</RequestID></Response>`
    );
  }
  /** @type {Record<string, string[]>} */
  const filters = {};
  for (let i = 1; form.has(`Filter.${i}.Name`); i++) {
    const values = [];
    for (let j = 1; form.has(`Filter.${i}.Value.${j}`); j++) values.push(/** @type {string} */ (form.get(`Filter.${i}.Value.${j}`)));
    filters[/** @type {string} */ (form.get(`Filter.${i}.Name`))] = values;
  }
  const matches = Object.entries(cfg.instances).filter(([ip, inst]) =>
    Object.entries(filters).every(([name, values]) => {
      if (name === "private-ip-address") return values.includes(ip);
      if (name === "instance-state-name") return values.includes(inst.state);
      if (name.startsWith("tag:")) return values.includes(inst.tags[name.slice(4)]);
      if (name === "instance-id") return values.includes(inst.instanceId);
      return false;
    })
  );
  const items = matches
    .map(([ip, inst]) => {
      const tags = Object.entries(inst.tags)
        .map(([k, v]) => `<item><key>${xml(k)}</key><value>${xml(v)}</value></item>`)
        .join("");
      const code = inst.state === "running" ? 16 : 80;
      return `<item><reservationId>r-${inst.instanceId.slice(
        2
      )}</reservationId><ownerId>000000000000</ownerId><groupSet/><instancesSet><item><instanceId>${
        inst.instanceId
      }</instanceId><instanceState><code>${code}</code><name>${
        inst.state
      }</name></instanceState><privateIpAddress>${ip}</privateIpAddress><tagSet>${tags}</tagSet></item></instancesSet></item>`;
    })
    .join("");
  return reply(
    200,
    `<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>${randomUUID()}</requestId><reservationSet>${items}</reservationSet></DescribeInstancesResponse>`
  );
}

/** An API call from the deployer: SSM's JSON 1.1 protocol by its X-Amz-Target, else EC2's query protocol. */
/** @param {import("node:http").IncomingMessage} req @param {import("node:http").ServerResponse} res @param {EndpointConfig} cfg */
function api(req, res, cfg) {
  let body = "";
  req.setEncoding("utf8").on("data", (d) => (body += d));
  req.on("end", () => {
    const target = String(req.headers["x-amz-target"] ?? "");
    // Named in the request log, as CloudTrail names each call.
    res.setHeader("x-lab-action", target || `ec2:${new URLSearchParams(body).get("Action") ?? "?"}`);
    if (target.startsWith("AmazonSSM.")) {
      let input;
      try {
        input = JSON.parse(body || "{}");
      } catch {
        return jsonError(res, "SerializationException", "the body is not JSON");
      }
      return ssmApi(res, cfg, target.slice("AmazonSSM.".length), input);
    }
    return ec2Api(res, cfg, new URLSearchParams(body));
  });
}

/** The agent's long poll: the next pending invocation for this instance, or 204 after 20 s. */
/** @param {import("node:http").ServerResponse} res @param {EndpointConfig} cfg @param {EndpointInstance} instance */
function agentNext(res, cfg, instance) {
  const id = instance.instanceId;
  agentSeen.set(id, Date.now());
  const take = () => {
    for (const inv of invocations.values()) {
      advance(cfg, inv);
      if (inv.instanceId === id && inv.status === "Pending") return inv;
    }
    return undefined;
  };
  const send = (/** @type {Invocation} */ inv) => {
    Object.assign(inv, { status: "InProgress", details: "InProgress", deliveredAt: Date.now() });
    reply(res, 200, `${inv.commandId}\n${inv.executionTimeout}\n${inv.script}\n`);
  };
  const ready = take();
  if (ready) return send(ready);
  const timer = setTimeout(() => {
    agentWaiting.delete(id);
    reply(res, 204, "");
  }, 20_000);
  agentWaiting.set(id, () => {
    const inv = take();
    if (!inv) return;
    clearTimeout(timer);
    agentWaiting.delete(id);
    send(inv);
  });
  res.on("close", () => {
    clearTimeout(timer);
    if (!res.writableEnded) agentWaiting.delete(id);
  });
}

/** The agent's report: exit code, then stdout and stderr base64-encoded, one per line. */
/** @param {import("node:http").IncomingMessage} req @param {import("node:http").ServerResponse} res @param {EndpointInstance} instance @param {URL} url */
function agentResult(req, res, instance, url) {
  let body = "";
  req.setEncoding("utf8").on("data", (d) => (body += d));
  req.on("end", () => {
    const inv = invocations.get(url.searchParams.get("command") ?? "");
    if (!inv || inv.instanceId !== instance.instanceId) return reply(res, 404, "");
    agentSeen.set(instance.instanceId, Date.now());
    if (inv.status !== "InProgress") return reply(res, 200, ""); // cancelled meanwhile: the result is dropped, as SSM drops it
    const [rc, out, err] = body.split("\n");
    const code = Number(rc);
    const decode = (/** @type {string | undefined} */ b) => Buffer.from(b ?? "", "base64").toString("utf8");
    // timeout(1)'s 124: the command ran past its executionTimeout.
    const outcome = code === 0 ? ["Success", "Success"] : code === 124 ? ["TimedOut", "ExecutionTimedOut"] : ["Failed", "Failed"];
    Object.assign(inv, { status: outcome[0], details: outcome[1], responseCode: code, stdout: decode(out), stderr: decode(err) });
    reply(res, 200, "");
  });
}

const server = createServer((req, res) => {
  const source = (req.socket.remoteAddress ?? "").replace(/^::ffff:/, "");
  const url = new URL(req.url ?? "/", "http://169.254.169.254");
  res.on("finish", () => {
    const action = res.getHeader("x-lab-action");
    console.log(`${new Date().toISOString()} ${source} ${req.method} ${url.pathname}${action ? ` ${action}` : ""} ${res.statusCode}`);
  });
  let cfg;
  try {
    cfg = config();
  } catch (e) {
    return reply(res, 500, `lab endpoint: cannot read ${configFile}: ${/** @type {Error} */ (e).message}`);
  }
  if (url.pathname.startsWith("/etcd-releases/") && req.method === "GET") return release(res, cfg, url);
  const instance = cfg.instances[source];
  // The deployer's AWS CLI (with --endpoint-url): the account's API. Members' roles call a little of it.
  if (req.method === "POST" && url.pathname === "/")
    return instance === undefined ? api(req, res, cfg) : memberApi(req, res, cfg, instance);
  if (instance === undefined) return reply(res, 403, `AccessDeniedException\n${source} is no instance of this lab.`);
  if (url.pathname === "/lab/ssm/agent/next" && req.method === "GET") return agentNext(res, cfg, instance);
  if (url.pathname === "/lab/ssm/agent/result" && req.method === "POST") return agentResult(req, res, instance, url);
  if (url.pathname.startsWith("/latest/")) return metadata(req, res, cfg, instance, url);
  return reply(res, 404, "");
});
// S3 first: the lab waits for "listening", and then S3 is there too (or said why not).
const { s3 } = config();
startLabS3({ ...s3, accessKeyId: MEMBER_KEY.AccessKeyId, secretAccessKey: MEMBER_KEY.SecretAccessKey }).then(
  (said) => {
    console.log(`${new Date().toISOString()} ${said}`);
    server.listen(port, "0.0.0.0", () => console.log(`${new Date().toISOString()} lab aws endpoint listening on :${port}`));
  },
  (e) => {
    console.error(`${new Date().toISOString()} lab S3 did not start: ${e.stack ?? e}`);
    process.exit(1);
  }
);
