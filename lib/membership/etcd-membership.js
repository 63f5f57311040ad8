#!/usr/bin/env node
// @ts-check
// etcd membership changes that survive being re-run: each step looks at `member list` first and
// only acts on what is missing, so a deploy that failed half-way can simply be run again.
// It talks to etcd's v3 HTTP/JSON gateway over mutual TLS, by one of two transports: straight from
// this machine with Node's https module (it must be inside the cluster's network), or through AWS
// Systems Manager Run Command, which runs curl on a member against its own loopback client URL with
// that member's certificate (this machine needs only AWS credentials and the AWS CLI). Either way
// the deploying machine needs neither etcdctl nor a gRPC package. One dependency-free file:
// it is copied into the synthesized stack as a Terraform asset and run by the local-exec
// provisioners (add, promote, remove); the operator CLI imports it too.
"use strict";

const { execFile } = require("node:child_process");
const fs = require("node:fs");
const https = require("node:https");

/**
 * @typedef {{ ID: string, name?: string, peerURLs?: string[], clientURLs?: string[], isLearner?: boolean }} Member
 * @typedef {{ status: number, body: any }} Response
 * @typedef {{ request(endpoint: string, method: string, path: string, payload?: object): Promise<Response> }} Transport
 * @typedef {{ endpoints: string[], cacert: string, cert: string, key: string, timeoutMs?: number }} DirectOptions
 * @typedef {{ endpoints: string[], transport: Transport }} TransportOptions
 * @typedef {DirectOptions | TransportOptions} ClientOptions
 */

/** etcd answered, and said no: the message is etcd's own ("etcdserver: unhealthy cluster"). */
class EtcdServerError extends Error {
  /** @param {string} message @param {number} code @param {string} endpoint */
  constructor(message, code, endpoint) {
    super(message);
    this.name = "EtcdServerError";
    this.code = code;
    this.endpoint = endpoint;
  }
}

/** No endpoint answered: each one's reason, in words an operator can act on. */
class EtcdUnreachableError extends Error {
  /** @param {string[]} reasons */
  constructor(reasons) {
    super(`no etcd endpoint answered:\n${reasons.map((r) => `  ${r}`).join("\n")}`);
    this.name = "EtcdUnreachableError";
    this.reasons = reasons;
  }
}

class EtcdClient {
  /** @param {ClientOptions} options the endpoints, and a transport or the TLS files for the direct one */
  constructor(options) {
    if (options.endpoints.length === 0) throw new Error("no endpoints: give --endpoints or ETCDCTL_ENDPOINTS");
    this.endpoints = options.endpoints;
    /** @type {Transport} */
    this.transport = "transport" in options ? options.transport : new DirectTransport(options);
  }

  /** @returns {Promise<{ members: Member[], memberId: string }>} */
  async memberList() {
    const { body } = await this.post("/v3/cluster/member/list", {});
    return { members: body.members ?? [], memberId: body.header?.member_id ?? "" };
  }

  /** @param {string} peerUrl @param {boolean} isLearner @returns {Promise<Member>} */
  async memberAdd(peerUrl, isLearner) {
    const { body } = await this.post("/v3/cluster/member/add", { peerURLs: [peerUrl], isLearner });
    return body.member;
  }

  /** @param {string} id */
  async memberPromote(id) {
    await this.post("/v3/cluster/member/promote", { ID: id });
  }

  /** @param {string} id */
  async memberRemove(id) {
    await this.post("/v3/cluster/member/remove", { ID: id });
  }

  /** One endpoint's /health, without failing over: the point is to ask that member. */
  /** @param {string} endpoint @returns {Promise<{ healthy: boolean, reason?: string, tookMs: number }>} */
  async health(endpoint) {
    const started = Date.now();
    try {
      const { status, body } = await this.request(endpoint, "GET", "/health");
      const healthy = status === 200 && body.health === "true";
      return { healthy, reason: healthy ? undefined : body.reason || `HTTP ${status}`, tookMs: Date.now() - started };
    } catch (err) {
      return { healthy: false, reason: explain(endpoint, err), tookMs: Date.now() - started };
    }
  }

  /** @param {string} endpoint @returns {Promise<any>} maintenance status of that member */
  async status(endpoint) {
    const { body } = await this.request(endpoint, "POST", "/v3/maintenance/status", {});
    if (body.error) throw new EtcdServerError(body.error, body.code, endpoint);
    return body;
  }

  /**
   * Hands leadership to another voter. Only the leader can: `endpoint` must be its client URL.
   * @param {string} endpoint @param {string} targetId
   */
  async moveLeader(endpoint, targetId) {
    const { body } = await this.request(endpoint, "POST", "/v3/maintenance/transfer-leadership", { targetID: targetId });
    if (body.error) throw new EtcdServerError(body.error, body.code, endpoint);
  }

  /** POST to the first endpoint that answers; etcd's own refusals are not retried elsewhere. */
  /** @param {string} path @param {object} payload */
  async post(path, payload) {
    const reasons = [];
    for (const endpoint of this.endpoints) {
      let response;
      try {
        response = await this.request(endpoint, "POST", path, payload);
      } catch (err) {
        if (err instanceof AwsCliError) throw err;
        reasons.push(explain(endpoint, err));
        continue;
      }
      const error = response.body.error ?? (response.status >= 400 ? `HTTP ${response.status}` : undefined);
      if (error) throw new EtcdServerError(error, response.body.code ?? 0, endpoint);
      return response;
    }
    throw new EtcdUnreachableError(reasons);
  }

  /** @param {string} endpoint @param {string} method @param {string} path @param {object} [payload] @returns {Promise<Response>} */
  request(endpoint, method, path, payload) {
    return this.transport.request(endpoint, method, path, payload);
  }
}

/** Straight to the member's client URL from this machine: it must be inside the cluster's network. */
class DirectTransport {
  /** @param {DirectOptions} options */
  constructor(options) {
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.tls = {
      ca: readPem(options.cacert, "CA certificate (--cacert)"),
      cert: readPem(options.cert, "client certificate (--cert)"),
      key: readPem(options.key, "client key (--key)"),
    };
  }

  /** @param {string} endpoint @param {string} method @param {string} path @param {object} [payload] @returns {Promise<Response>} */
  request(endpoint, method, path, payload) {
    const url = new URL(path, endpoint);
    const data = payload === undefined ? undefined : JSON.stringify(payload);
    return new Promise((resolve, reject) => {
      const req = https.request(
        url,
        {
          method,
          ...this.tls,
          timeout: this.timeoutMs,
          headers: data === undefined ? {} : { "content-type": "application/json", "content-length": Buffer.byteLength(data) },
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (chunk) => (text += chunk));
          res.on("end", () => {
            try {
              resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : {} });
            } catch {
              reject(new Error(`answered HTTP ${res.statusCode} with something that is not JSON: ${text.slice(0, 200)}`));
            }
          });
        }
      );
      req.on("timeout", () => req.destroy(Object.assign(new Error(`no answer within ${this.timeoutMs} ms`), { code: "ETIMEDOUT" })));
      req.on("error", reject);
      req.end(data);
    });
  }
}

/**
 * @typedef {{ url: string, cacert: string, cert: string, key: string }} OnMember where a member's own
 *   client URL and certificate are, on the member (the user data's paths)
 * @typedef {{ clusterTag: string, onMember: OnMember, region?: string, awsCli?: string, endpointUrl?: { ssm?: string, ec2?: string },
 *   timeoutMs?: number, pollMs?: number, log?: (line: string) => void }} SsmOptions
 */

/** The AWS CLI said no in a way no retry mends (no credentials, not allowed, no CLI): the step stops. */
class AwsCliError extends Error {}

// Run Command's own floor for the delivery timeout is 30 s; the command itself is one curl.
const SSM_DELIVERY_TIMEOUT_SECONDS = 30;
const SSM_EXECUTION_TIMEOUT_SECONDS = 30;
const SSM_TERMINAL = new Set(["Success", "Failed", "Cancelled", "TimedOut", "Cancelling"]);
// curl's exit codes, as the Node errors the direct transport would have seen, so one explain() serves both.
const CURL_EXIT = {
  6: "ENOTFOUND",
  7: "ECONNREFUSED",
  28: "ETIMEDOUT",
  35: "EPROTO",
  56: "ECONNRESET",
  58: "EPROTO",
  60: "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
};

/**
 * Through AWS Systems Manager Run Command: each request becomes `curl` on the member the endpoint
 * names, against its own loopback client URL with its own certificate (peer-and-server, so it has
 * clientAuth), run by SSM's agent as root. This machine needs no route into the VPC, only AWS
 * credentials allowed ec2:DescribeInstances and ssm:SendCommand/GetCommandInvocation/CancelCommand.
 * The instance behind an endpoint is looked up when asked, by its private IP and the cluster's
 * `etcd:cluster` tag: a replaced VM is found under its new id, and nothing of it is in the config.
 */
class SsmTransport {
  /** @param {SsmOptions} options */
  constructor(options) {
    this.options = options;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.pollMs = options.pollMs ?? 500;
    this.log = options.log ?? (() => undefined);
    /** @type {Map<string, string>} private IP to instance id, for this run */
    this.instances = new Map();
  }

  /** @param {string} endpoint @param {string} method @param {string} path @param {object} [payload] @returns {Promise<Response>} */
  async request(endpoint, method, path, payload) {
    try {
      return await this.requestOnce(endpoint, method, path, payload);
    } catch (err) {
      if (err && typeof err === "object" && !(err instanceof AwsCliError)) Object.assign(err, { via: "ssm" });
      throw err;
    }
  }

  /** @param {string} endpoint @param {string} method @param {string} path @param {object} [payload] @returns {Promise<Response>} */
  async requestOnce(endpoint, method, path, payload) {
    const { instanceId, invocation } = await this.run(
      endpoint,
      curlScript(this.options.onMember, method, path, payload),
      `${method} ${path}`
    );
    const stdout = invocation.StandardOutputContent ?? "";
    if (invocation.Status === "Success") return parseCurlOutput(stdout, endpoint);
    const details = `${invocation.StatusDetails ?? invocation.Status}`;
    if (invocation.Status === "Failed" && invocation.ResponseCode > 0) {
      const code = /** @type {Record<number, string>} */ (CURL_EXIT)[invocation.ResponseCode];
      const stderr = String(invocation.StandardErrorContent ?? "")
        .trim()
        .split("\n")
        .pop();
      throw Object.assign(
        new Error(`on ${instanceId}, curl to ${this.options.onMember.url} exited ${invocation.ResponseCode}: ${stderr}`),
        {
          code: code ?? "SSM_COMMAND_FAILED",
        }
      );
    }
    throw Object.assign(new Error(`Run Command on ${instanceId} ended ${details}`), { code: "SSM_TIMEOUT" });
  }

  /**
   * Runs a shell command as root on the member at the endpoint (e.g. its backup); a command that
   * ran and failed is a result, not an error.
   * @param {string} endpoint @param {string} command @param {string} comment
   * @returns {Promise<{ instanceId: string, exitCode: number, stdout: string, stderr: string }>}
   */
  async runOnMember(endpoint, command, comment) {
    const { instanceId, invocation } = await this.run(endpoint, command, comment);
    const ran = invocation.Status === "Success" || (invocation.Status === "Failed" && invocation.ResponseCode > 0);
    if (!ran)
      throw Object.assign(new Error(`Run Command on ${instanceId} ended ${invocation.StatusDetails ?? invocation.Status}`), {
        code: "SSM_TIMEOUT",
      });
    return {
      instanceId,
      exitCode: invocation.Status === "Success" ? 0 : invocation.ResponseCode,
      stdout: String(invocation.StandardOutputContent ?? ""),
      stderr: String(invocation.StandardErrorContent ?? ""),
    };
  }

  /** @param {string} endpoint @param {string} script @param {string} what @returns {Promise<{ instanceId: string, invocation: any }>} */
  async run(endpoint, script, what) {
    const instanceId = await this.instanceOf(endpoint);
    let commandId;
    try {
      commandId = (
        await this.aws("ssm", [
          "send-command",
          "--instance-ids",
          instanceId,
          "--document-name",
          "AWS-RunShellScript",
          "--comment",
          `etcd-cluster: ${what}`.slice(0, 100),
          "--timeout-seconds",
          String(SSM_DELIVERY_TIMEOUT_SECONDS),
          "--parameters",
          JSON.stringify({ commands: [script], executionTimeout: [String(SSM_EXECUTION_TIMEOUT_SECONDS)] }),
          "--query",
          "Command.CommandId",
          "--output",
          "text",
        ])
      ).trim();
    } catch (err) {
      if (/\(InvalidInstanceId\)/.test(/** @type {Error} */ (err).message)) {
        // The instance runs, but SSM does not manage it (yet): its agent is starting, or lacks the policy or a route to SSM.
        this.instances.delete(new URL(endpoint).hostname);
        throw Object.assign(
          new Error(
            `${instanceId} is not managed by SSM (yet): its agent is starting, or the instance lacks AmazonSSMManagedInstanceCore or a route to SSM`
          ),
          { code: "SSM_NOT_MANAGED" }
        );
      }
      throw err;
    }
    return { instanceId, invocation: await this.waitFor(commandId, instanceId) };
  }

  /** Polls the invocation until it ends, for at most timeoutMs; then cancels it. */
  /** @param {string} commandId @param {string} instanceId @returns {Promise<any>} */
  async waitFor(commandId, instanceId) {
    const started = Date.now();
    let logged = started;
    for (;;) {
      let invocation;
      try {
        invocation = JSON.parse(
          await this.aws("ssm", ["get-command-invocation", "--command-id", commandId, "--instance-id", instanceId, "--output", "json"])
        );
      } catch (err) {
        // Right after SendCommand the invocation may not exist yet: SSM creates it asynchronously.
        if (!/\(InvocationDoesNotExist\)/.test(/** @type {Error} */ (err).message)) throw err;
      }
      if (invocation && SSM_TERMINAL.has(invocation.Status)) return invocation;
      const elapsed = Date.now() - started;
      if (elapsed >= this.timeoutMs) {
        await this.aws("ssm", ["cancel-command", "--command-id", commandId, "--instance-ids", instanceId]).catch(() => undefined);
        throw Object.assign(
          new Error(
            `Run Command on ${instanceId} was still ${invocation?.StatusDetails ?? "not delivered"} after ${Math.round(
              elapsed / 1000
            )} s: cancelled it`
          ),
          { code: "SSM_TIMEOUT" }
        );
      }
      if (Date.now() - logged >= 5000) {
        logged = Date.now();
        this.log(
          `waiting for Run Command ${commandId} on ${instanceId}: ${invocation?.StatusDetails ?? "not delivered yet"} (${Math.round(
            elapsed / 1000
          )} s)`
        );
      }
      await new Promise((r) => setTimeout(r, this.pollMs));
    }
  }

  /** The running instance of this cluster holding the endpoint's IP. */
  /** @param {string} endpoint */
  async instanceOf(endpoint) {
    const ip = new URL(endpoint).hostname;
    const known = this.instances.get(ip);
    if (known) return known;
    const ids = JSON.parse(
      (await this.aws("ec2", [
        "describe-instances",
        "--filters",
        `Name=private-ip-address,Values=${ip}`,
        `Name=tag:etcd:cluster,Values=${this.options.clusterTag}`,
        "Name=instance-state-name,Values=running",
        "--query",
        "Reservations[].Instances[].InstanceId",
        "--output",
        "json",
      ])) || "[]"
    );
    if (ids.length !== 1) {
      throw Object.assign(
        new Error(
          `${ids.length === 0 ? "no" : ids.length} running instance${ids.length === 1 ? "" : "s"} at ${ip} tagged etcd:cluster=${
            this.options.clusterTag
          }`
        ),
        { code: "SSM_NO_INSTANCE" }
      );
    }
    this.instances.set(ip, ids[0]);
    return ids[0];
  }

  /** @param {"ssm" | "ec2"} service @param {string[]} args @returns {Promise<string>} */
  aws(service, args) {
    const { region, endpointUrl } = this.options;
    const command = this.options.awsCli ?? "aws";
    const url = endpointUrl?.[service];
    const argv = [service, ...args, ...(region ? ["--region", region] : []), ...(url ? ["--endpoint-url", url] : [])];
    return new Promise((resolve, reject) => {
      // AWS_PAGER="": what --no-cli-pager does in v2, and v1 knows no such flag.
      const env = { ...process.env, AWS_PAGER: "" };
      execFile(command, argv, { encoding: "utf8", env, maxBuffer: 8 * 1024 * 1024 }, (error, stdout, stderr) => {
        if (!error) return resolve(stdout);
        const spawnCode = /** @type {NodeJS.ErrnoException} */ (error).code;
        if (typeof spawnCode === "string") {
          return reject(
            new AwsCliError(
              `cannot run ${command} (${spawnCode}): install the AWS CLI, or set ETCD_CLUSTER_AWS_CLI to it, or use --transport=direct from inside the VPC`
            )
          );
        }
        const message = `aws ${service} ${args[0]}: ${(stderr || stdout).trim()}`;
        // Throttling and network blips pass; missing credentials or permissions do not.
        if (
          /Unable to locate credentials|AccessDenied|UnauthorizedOperation|UnrecognizedClient|InvalidClientTokenId|ExpiredToken|AuthFailure|You must specify a region/.test(
            message
          )
        ) {
          return reject(new AwsCliError(message));
        }
        reject(Object.assign(new Error(message), { code: "SSM_API" }));
      });
    });
  }
}

/** The shell command Run Command runs on the member: one curl, the HTTP status on the last line. */
/** @param {OnMember} on @param {string} method @param {string} path @param {object} [payload] */
function curlScript(on, method, path, payload) {
  const args = ["curl", "-sS", "--max-time", "10", "--cacert", on.cacert, "--cert", on.cert, "--key", on.key, "-X", method];
  if (payload !== undefined) args.push("-H", "content-type: application/json", "--data-binary", JSON.stringify(payload));
  args.push("-w", "\\n%{http_code}", new URL(path, on.url).toString());
  return args.map(shellQuote).join(" ");
}

/** @param {string} stdout @param {string} endpoint @returns {Response} */
function parseCurlOutput(stdout, endpoint) {
  const lines = stdout.replace(/\n$/, "").split("\n");
  const status = Number(lines.pop());
  const text = lines.join("\n");
  if (!Number.isInteger(status) || status < 100)
    throw new Error(`${endpoint}: Run Command printed no HTTP status: ${stdout.slice(0, 200)}`);
  try {
    return { status, body: text ? JSON.parse(text) : {} };
  } catch {
    throw new Error(`answered HTTP ${status} with something that is not JSON: ${text.slice(0, 200)}`);
  }
}

/** @param {string} word */
function shellQuote(word) {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** @param {string} file @param {string} what */
function readPem(file, what) {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new Error(`cannot read the ${what} ${file}: ${/** @type {Error} */ (err).message}`);
  }
}

/** Turns Node's TLS and socket errors into what went wrong and what to check. */
/** @param {string} endpoint @param {any} err */
function explain(endpoint, err) {
  const code = err && err.code;
  const hints = {
    ECONNREFUSED: "connection refused: is etcd running there and listening on that port?",
    EHOSTUNREACH: "host unreachable: is this machine inside the cluster's network (VPC, VPN, bastion)?",
    ENETUNREACH: "network unreachable: is this machine inside the cluster's network (VPC, VPN, bastion)?",
    ETIMEDOUT: "timed out: a security group or firewall may drop the traffic, or the member is down",
    UNABLE_TO_VERIFY_LEAF_SIGNATURE: "the server's certificate is not signed by the given CA: wrong --cacert, or another cluster",
    SELF_SIGNED_CERT_IN_CHAIN: "the server's certificate chain ends in a CA other than --cacert: wrong CA file, or another cluster",
    DEPTH_ZERO_SELF_SIGNED_CERT: "the server presents a self-signed certificate: is it etcd with ETCD_AUTO_TLS?",
    ERR_TLS_CERT_ALTNAME_INVALID:
      "the server's certificate does not list this address: the endpoint is not the member the certificate was made for",
    CERT_HAS_EXPIRED: "the server's certificate has expired: re-issue it from the PKI directory",
    ECONNRESET:
      "the connection was reset during TLS: the server refused our client certificate (wrong --cert/--key or another CA), or it does not speak TLS",
    EPROTO: "TLS failed: the server refused our client certificate (wrong --cert/--key or another CA), or it does not speak TLS",
  };
  const hint = (code && /** @type {Record<string,string>} */ (hints)[code]) || "";
  const alert = /alert (bad|unknown|certificate)[^:]*/i.exec(String(err && err.message));
  const detail = alert ? `the server refused our client certificate (${alert[0]}): check --cert/--key belong to this cluster's CA` : hint;
  // Through Run Command the error happened on the member: its own words say where, the hint what.
  const message = err && err.via === "ssm" ? `${err.message}${hint ? ` (${hint})` : ""}` : detail || (err && err.message) || String(err);
  return `${endpoint}: ${message}${code && !message.includes(code) ? ` [${code}]` : ""}`;
}

/**
 * @typedef {(line: string) => void} Log
 * @typedef {{ client: EtcdClient, peerUrl: string, name?: string, timeoutMs: number, log: Log, sleep?: (ms: number) => Promise<void>, backupFirst?: boolean, backedUp?: boolean }} StepOptions
 */

// etcd refuses membership changes for ~5 s after a member connects (strict reconfig check), and
// takes one learner at a time: both clear up by themselves, so they are waited out.
const TRANSIENT = [
  /unhealthy cluster/,
  /too many learner members/,
  /not enough started members/,
  /leader changed/,
  /timed out/,
  /no leader/,
];
const LEARNER_NOT_READY = /can only promote a learner member which is in sync with leader|learner member not found|not started/;

class MembershipError extends Error {}

/** The backup command each member's user data installs when the cluster has backups (lib/host/backup-units.ts). */
const BACKUP_COMMAND = "/usr/local/sbin/etcd-backup";

/**
 * Runs `etcd-backup --force` on the first member (in endpoint order) whose instance can run it:
 * a member that is down or not managed by SSM yet is passed over; one that ran it and failed ends
 * the attempt. Needs the ssm transport: only Run Command runs a command on a member.
 * @param {EtcdClient} client @param {string} reason
 * @returns {Promise<{ ok: true, instanceId: string, said: string } | { ok: false, instanceId?: string, exitCode?: number, said: string }>}
 */
async function backupOnMember(client, reason) {
  const transport = /** @type {any} */ (client.transport);
  if (typeof transport.runOnMember !== "function") {
    return { ok: false, said: "it runs on a member through SSM Run Command: use --transport=ssm" };
  }
  let lastError = "";
  for (const endpoint of client.endpoints) {
    let result;
    try {
      result = await transport.runOnMember(endpoint, `${BACKUP_COMMAND} --force --reason ${shellQuote(reason)}`, `backup: ${reason}`);
    } catch (err) {
      lastError = `${endpoint}: ${/** @type {Error} */ (err).message}`;
      continue;
    }
    if (result.exitCode === 0) return { ok: true, instanceId: result.instanceId, said: result.stdout.trim().split("\n").pop() ?? "" };
    const said = (result.stderr.trim() || result.stdout.trim()).split("\n").slice(-2).join(" / ");
    return { ok: false, instanceId: result.instanceId, exitCode: result.exitCode, said };
  }
  return { ok: false, said: `no member could run it (${lastError})` };
}

/**
 * A snapshot before the member list changes, through the members' own backup path: the change
 * is not made when it fails. Once per step, however often the step itself is retried.
 * @param {StepOptions} o @param {string} reason
 */
async function backupFirst(o, reason) {
  if (!o.backupFirst || o.backedUp) return;
  const result = await backupOnMember(o.client, reason);
  if (result.ok) {
    o.log(`backed up first, on ${result.instanceId}: ${result.said}`);
    o.backedUp = true;
    return;
  }
  const where = result.instanceId ? ` on ${result.instanceId} (exit ${result.exitCode})` : "";
  throw new MembershipError(
    `the backup before ${reason} failed${where}: ${result.said}. Nothing was changed: fix the backup (journalctl -u etcd-backup on a member), or deploy with backup.beforeMembershipChanges false`
  );
}

/** Set to 1 by an operator destroying a cluster that can no longer confirm a member remove. */
const ABANDON_ENV = "ETCD_CLUSTER_ABANDON";

/** Phase 1: register the member as a learner, which does not count toward quorum. */
/** @param {StepOptions} o @returns {Promise<Member>} */
async function addLearner(o) {
  return retrying(o, `add ${label(o)} as a learner`, async () => {
    const existing = findByPeerUrl((await o.client.memberList()).members, o.peerUrl);
    if (existing) {
      o.log(`${label(o)} is already a member (${describe(existing)}): nothing to add`);
      return existing;
    }
    await backupFirst(o, `adding ${label(o)}`);
    let added;
    try {
      added = await o.client.memberAdd(o.peerUrl, true);
    } catch (err) {
      const now = await afterRefusal(o, err);
      if (!now) throw err;
      o.log(`${label(o)} (${now.ID}) was added by a request whose answer was lost`);
      return now;
    }
    o.log(`added ${label(o)} as learner ${added.ID}`);
    return added;
  });
}

/** Phase 3: once the new member runs and has caught up, make it a voting member. */
/** @param {StepOptions} o @returns {Promise<Member>} */
async function promote(o) {
  return retrying(o, `promote ${label(o)}`, async () => {
    const member = findByPeerUrl((await o.client.memberList()).members, o.peerUrl);
    if (!member) {
      throw new MembershipError(`${label(o)} is not a member of the cluster: register it first (add), then start it, then promote`);
    }
    if (!member.isLearner) {
      o.log(`${label(o)} is a voting member (${member.ID}): nothing to promote`);
      return member;
    }
    if (!member.name) throw new NotYet(`${label(o)} is registered but has not started yet`);
    try {
      await o.client.memberPromote(member.ID);
    } catch (err) {
      const now = await afterRefusal(o, err);
      if (now && !now.isLearner) {
        o.log(`${label(o)} (${now.ID}) was promoted by a request whose answer was lost`);
        return now;
      }
      if (err instanceof EtcdServerError && LEARNER_NOT_READY.test(err.message)) {
        throw new NotYet(`${label(o)} has started and is catching up with the leader`);
      }
      throw err;
    }
    o.log(`promoted ${label(o)} (${member.ID}) to a voting member`);
    return { ...member, isLearner: false };
  });
}

/** Takes the member out before its VM goes; a member already gone is success. */
/** @param {StepOptions} o */
async function remove(o) {
  return retrying(o, `remove ${label(o)}`, async () => {
    const { members } = await o.client.memberList();
    const member = findByPeerUrl(members, o.peerUrl);
    if (!member) {
      o.log(`${label(o)} is not a member: nothing to remove`);
      return;
    }
    if (members.length === 1) {
      // Only when the whole cluster is being destroyed: etcd cannot remove its last member.
      o.log(`${label(o)} is the last member: leaving it, the cluster goes with it`);
      return;
    }
    await backupFirst(o, `removing ${label(o)}`);
    try {
      await o.client.memberRemove(member.ID);
    } catch (err) {
      if (!(err instanceof EtcdServerError) || (await afterRefusal(o, err))) throw err;
      o.log(`${label(o)} (${member.ID}) was removed by a request whose answer was lost: nothing left to remove`);
      return;
    }
    o.log(`removed ${label(o)} (${member.ID})`);
  });
}

class NotYet extends Error {}

/**
 * The member as the cluster has it now, after etcd refused a change (undefined when it is not a
 * member; nothing is read for other errors). A request whose answer was lost (a member removing
 * itself shuts down; a Run Command that timed out) makes the client ask the next endpoint, which
 * refuses a change that already happened, in words that vary ("Peer URLs already exists", "member
 * ID already exist", "member not found", "can only promote a learner member"): the member list,
 * not the words, says whether the step is done.
 * @param {StepOptions} o @param {unknown} err @returns {Promise<Member | undefined>}
 */
async function afterRefusal(o, err) {
  if (!(err instanceof EtcdServerError)) return undefined;
  return findByPeerUrl((await o.client.memberList()).members, o.peerUrl);
}

/**
 * Runs a step until it succeeds, waiting out transient refusals and unreachable endpoints with
 * backoff and a progress line, up to the step's deadline.
 * @template T @param {StepOptions} o @param {string} what @param {() => Promise<T>} step @returns {Promise<T>}
 */
async function retrying(o, what, step) {
  const sleep = o.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  const started = Date.now();
  let delay = 250;
  let lastReason = "";
  let lastLogged = 0;
  for (;;) {
    try {
      return await step();
    } catch (err) {
      const transient =
        err instanceof NotYet ||
        err instanceof EtcdUnreachableError ||
        (err instanceof EtcdServerError && TRANSIENT.some((re) => re.test(err.message)));
      if (!transient) throw err;
      const elapsed = Date.now() - started;
      const reason = /** @type {Error} */ (err).message;
      if (elapsed + delay > o.timeoutMs) {
        throw new MembershipError(`gave up after ${Math.round(elapsed / 1000)} s trying to ${what}: ${reason}`);
      }
      if (reason !== lastReason || elapsed - lastLogged >= 5000) {
        lastLogged = elapsed;
        o.log(`waiting to ${what} (${Math.round(elapsed / 1000)} s of ${Math.round(o.timeoutMs / 1000)} s): ${reason}`);
      }
      lastReason = reason;
      await sleep(delay);
      // Capped at 1 s: what is waited on (etcd's ~5 s window after a member connects, a learner
      // catching up) ends on its own, and every second slept past its end is a second of deploy.
      delay = Math.min(delay * 2, 1000);
    }
  }
}

/** @param {Member[]} members @param {string} peerUrl */
function findByPeerUrl(members, peerUrl) {
  return members.find((m) => (m.peerURLs ?? []).includes(peerUrl));
}

/** @param {Member} m */
function describe(m) {
  return `${m.isLearner ? "learner" : "voter"} ${m.ID}${m.name ? "" : ", not started"}`;
}

/** @param {{ name?: string, peerUrl: string }} o */
function label(o) {
  return o.name ? `${o.name} (${o.peerUrl})` : o.peerUrl;
}

/**
 * The client a command line asks for:
 *   --transport=direct (default): --endpoints, --cacert, --cert, --key, or etcdctl's ETCDCTL_* variables;
 *   --transport=ssm: --endpoints, --cluster-tag (the members' etcd:cluster tag), --on-member-url,
 *     --on-member-cacert, --on-member-cert, --on-member-key (the member's own client URL and
 *     certificate, on the member), [--region]. The AWS CLI is ETCD_CLUSTER_AWS_CLI or `aws`; its
 *     endpoints AWS_ENDPOINT_URL_SSM, AWS_ENDPOINT_URL_EC2 or AWS_ENDPOINT_URL, passed as
 *     --endpoint-url so that CLIs older than 2.13, which do not read them, honour them too.
 * @param {Record<string, string>} flags @param {NodeJS.ProcessEnv} env @param {Log} log
 */
function clientFromFlags(flags, env, log) {
  const endpoints = (flags.endpoints ?? env.ETCDCTL_ENDPOINTS ?? "").split(",").filter(Boolean);
  const transport = flags.transport ?? "direct";
  if (transport === "direct") {
    return new EtcdClient({
      endpoints,
      cacert: flags.cacert ?? env.ETCDCTL_CACERT ?? "",
      cert: flags.cert ?? env.ETCDCTL_CERT ?? "",
      key: flags.key ?? env.ETCDCTL_KEY ?? "",
    });
  }
  if (transport !== "ssm") throw new Error(`--transport is ${JSON.stringify(transport)} but must be "direct" or "ssm"`);
  const required = ["cluster-tag", "on-member-url", "on-member-cacert", "on-member-cert", "on-member-key"];
  const missing = required.filter((f) => !flags[f]);
  if (missing.length > 0) throw new Error(`--transport=ssm needs ${missing.map((f) => `--${f}`).join(", ")}`);
  const endpointUrl = {
    ssm: env.AWS_ENDPOINT_URL_SSM || env.AWS_ENDPOINT_URL || undefined,
    ec2: env.AWS_ENDPOINT_URL_EC2 || env.AWS_ENDPOINT_URL || undefined,
  };
  return new EtcdClient({
    endpoints,
    transport: new SsmTransport({
      clusterTag: flags["cluster-tag"],
      region: flags.region || undefined,
      onMember: {
        url: flags["on-member-url"],
        cacert: flags["on-member-cacert"],
        cert: flags["on-member-cert"],
        key: flags["on-member-key"],
      },
      awsCli: env.ETCD_CLUSTER_AWS_CLI || undefined,
      endpointUrl,
      log,
    }),
  });
}

/**
 * Command line for the provisioners:
 *   node membership.js add|promote|remove --peer-url URL [--name NAME] [--timeout SECONDS]
 *     [--endpoints URL,URL] and the transport's flags (see clientFromFlags);
 *     --backup-first=true: add and remove take a backup on a member first (ssm transport)
 * @param {string[]} argv
 */
async function main(argv) {
  const [command, ...rest] = argv;
  const steps = { add: addLearner, promote, remove };
  const flags = parseFlags(rest);
  const step = /** @type {Record<string, (o: StepOptions) => Promise<unknown>>} */ (steps)[command ?? ""];
  if (!step || !flags["peer-url"]) {
    process.stderr.write(
      "usage: membership.js add|promote|remove --peer-url URL [--name NAME] [--timeout SECONDS] [--endpoints URLS] [--transport direct|ssm] [transport flags] [--backup-first=true]\n"
    );
    return 2;
  }
  const log = (/** @type {string} */ line) => process.stdout.write(`[etcd ${command}] ${line}\n`);
  // The way out of a destroy that cannot succeed: a cluster that lost its quorum (or whose members
  // are all gone) can never confirm a remove, and the destroy would fail the same way forever.
  const abandon = command === "remove" && process.env[ABANDON_ENV] === "1";
  try {
    const client = clientFromFlags(flags, process.env, log);
    if (flags.transport === "ssm") log(`through SSM Run Command on the members (cluster ${flags["cluster-tag"]})`);
    const timeoutMs = (abandon ? Math.min(Number(flags.timeout ?? 600), 5) : Number(flags.timeout ?? 600)) * 1000;
    // An abandoned cluster has no quorum to back up from.
    const backup = flags["backup-first"] === "true" && !abandon;
    await step({ client, peerUrl: flags["peer-url"], name: flags.name, timeoutMs, log, backupFirst: backup });
    return 0;
  } catch (err) {
    if (abandon) {
      log(`${ABANDON_ENV}=1: leaving ${flags.name ?? flags["peer-url"]} in etcd's member list: ${/** @type {Error} */ (err).message}`);
      return 0;
    }
    process.stderr.write(`[etcd ${command}] failed: ${/** @type {Error} */ (err).message}\n`);
    if (command === "remove") {
      process.stderr.write(
        `[etcd ${command}] the member is still in the cluster and its VM is untouched. If the members answer again, run the destroy again. If the whole cluster is being destroyed and has lost its quorum, run it with ${ABANDON_ENV}=1, which leaves etcd's member list as it is.\n`
      );
    }
    if (command === "promote") {
      process.stderr.write(
        `[etcd ${command}] the member is still a learner, which does not vote: the cluster's quorum is unchanged. Fix the member (its VM's /var/log/cloud-init-output.log and journalctl -u etcd), then run the deploy again.\n`
      );
    }
    return 1;
  }
}

/** @param {string[]} args @returns {Record<string, string>} */
function parseFlags(args) {
  /** @type {Record<string, string>} */
  const flags = {};
  for (let i = 0; i < args.length; i++) {
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(args[i]);
    if (!match) continue;
    flags[match[1]] = match[2] ?? args[++i] ?? "";
  }
  return flags;
}

module.exports = {
  EtcdClient,
  DirectTransport,
  SsmTransport,
  AwsCliError,
  clientFromFlags,
  EtcdServerError,
  EtcdUnreachableError,
  addLearner,
  backupFirst,
  backupOnMember,
  promote,
  remove,
  findByPeerUrl,
  parseFlags,
  MembershipError,
  main,
};

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
