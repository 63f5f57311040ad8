// @ts-check
// etcd's v3 HTTP/JSON gateway over mutual TLS, with nothing but Node's https module, so the
// deploying machine needs neither etcdctl nor a gRPC package. Plain JS: it is copied into the
// synthesized stack as a Terraform asset and run by local-exec provisioners as it is.
"use strict";

const fs = require("node:fs");
const https = require("node:https");

/**
 * @typedef {{ ID: string, name?: string, peerURLs?: string[], clientURLs?: string[], isLearner?: boolean }} Member
 * @typedef {{ endpoints: string[], cacert: string, cert: string, key: string, timeoutMs?: number }} ClientOptions
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
  /** @param {ClientOptions} options */
  constructor(options) {
    if (options.endpoints.length === 0) throw new Error("no endpoints: give --endpoints or ETCDCTL_ENDPOINTS");
    this.endpoints = options.endpoints;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.tls = {
      ca: readPem(options.cacert, "CA certificate (--cacert)"),
      cert: readPem(options.cert, "client certificate (--cert)"),
      key: readPem(options.key, "client key (--key)"),
    };
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

  /** POST to the first endpoint that answers; etcd's own refusals are not retried elsewhere. */
  /** @param {string} path @param {object} payload */
  async post(path, payload) {
    const reasons = [];
    for (const endpoint of this.endpoints) {
      let response;
      try {
        response = await this.request(endpoint, "POST", path, payload);
      } catch (err) {
        reasons.push(explain(endpoint, err));
        continue;
      }
      const error = response.body.error ?? (response.status >= 400 ? `HTTP ${response.status}` : undefined);
      if (error) throw new EtcdServerError(error, response.body.code ?? 0, endpoint);
      return response;
    }
    throw new EtcdUnreachableError(reasons);
  }

  /** @param {string} endpoint @param {string} method @param {string} path @param {object} [payload] */
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
        },
      );
      req.on("timeout", () => req.destroy(Object.assign(new Error(`no answer within ${this.timeoutMs} ms`), { code: "ETIMEDOUT" })));
      req.on("error", reject);
      req.end(data);
    });
  }
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
    ERR_TLS_CERT_ALTNAME_INVALID: "the server's certificate does not list this address: the endpoint is not the member the certificate was made for",
    CERT_HAS_EXPIRED: "the server's certificate has expired: re-issue it from the PKI directory",
    ECONNRESET: "the connection was reset during TLS: the server refused our client certificate (wrong --cert/--key or another CA), or it does not speak TLS",
    EPROTO: "TLS failed: the server refused our client certificate (wrong --cert/--key or another CA), or it does not speak TLS",
  };
  const hint = (code && /** @type {Record<string,string>} */ (hints)[code]) || "";
  const alert = /alert (bad|unknown|certificate)[^:]*/i.exec(String(err && err.message));
  const detail = alert ? `the server refused our client certificate (${alert[0]}): check --cert/--key belong to this cluster's CA` : hint;
  return `${endpoint}: ${detail || (err && err.message) || String(err)}${code && !detail.includes(code) ? ` [${code}]` : ""}`;
}

module.exports = { EtcdClient, EtcdServerError, EtcdUnreachableError };
