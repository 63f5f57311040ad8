// The lab's stand-in for what an EC2 instance reaches at 169.254.169.254 and beyond: instance
// metadata (IMDSv2), the one SSM call the boot script makes, and a release mirror in the official
// download layout. It runs in the deployer's network namespace, where the address sits on `lo`;
// each machine routes it via the deployer. An instance is known by its source address, as EC2
// knows it by its network interface. Plain JavaScript, so that node runs it as it is from lib/
// and dist/. Usage: node aws-endpoint.js CONFIG.json (re-read on each request: the lab edits it
// as instances come and go).
"use strict";
const { createReadStream, readFileSync, statSync } = require("node:fs");
const { createServer } = require("node:http");
const { randomBytes } = require("node:crypto");
const { join, normalize } = require("node:path");

/**
 * @typedef {{ instanceId: string, member: string }} EndpointInstance
 * @typedef {{ region: string, instances: Record<string, EndpointInstance>, parameters: Record<string, string>, releasesDir: string }} EndpointConfig
 */

const configFile = process.argv[2];
/** @type {Map<string, number>} IMDSv2 session tokens and when they expire */
const tokens = new Map();

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
  return value === undefined ? reply(res, 404, "") : reply(res, 200, value);
}

/**
 * @param {import("node:http").ServerResponse} res
 * @param {EndpointConfig} cfg
 * @param {URL} url
 */
function getParameter(res, cfg, url) {
  const name = url.searchParams.get("name") ?? "";
  const region = url.searchParams.get("region") ?? "";
  const file = region === cfg.region ? cfg.parameters[name] : undefined;
  if (file === undefined) return reply(res, 400, `ParameterNotFound\nParameter ${name} not found.`);
  let value;
  try {
    value = readFileSync(file, "utf8");
  } catch {
    return reply(res, 400, `ParameterNotFound\nParameter ${name} not found.`);
  }
  return reply(res, 200, value);
}

/**
 * @param {import("node:http").ServerResponse} res
 * @param {EndpointConfig} cfg
 * @param {URL} url
 */
function release(res, cfg, url) {
  const relative = normalize(decodeURIComponent(url.pathname.slice("/etcd-releases/".length)));
  if (relative.startsWith("..") || relative.startsWith("/")) return reply(res, 404, "");
  const file = join(cfg.releasesDir, relative);
  let size;
  try {
    const stat = statSync(file);
    if (!stat.isFile()) return reply(res, 404, "");
    size = stat.size;
  } catch {
    return reply(res, 404, "");
  }
  res.writeHead(200, { "content-type": "application/gzip", "content-length": size });
  createReadStream(file).pipe(res);
}

const server = createServer((req, res) => {
  const source = (req.socket.remoteAddress ?? "").replace(/^::ffff:/, "");
  const url = new URL(req.url ?? "/", "http://169.254.169.254");
  res.on("finish", () => console.log(`${new Date().toISOString()} ${source} ${req.method} ${url.pathname} ${res.statusCode}`));
  let cfg;
  try {
    cfg = config();
  } catch (e) {
    return reply(res, 500, `lab endpoint: cannot read ${configFile}: ${/** @type {Error} */ (e).message}`);
  }
  if (url.pathname.startsWith("/etcd-releases/") && req.method === "GET") return release(res, cfg, url);
  const instance = cfg.instances[source];
  if (instance === undefined) return reply(res, 403, `AccessDeniedException\n${source} is no instance of this lab.`);
  if (url.pathname.startsWith("/latest/")) return metadata(req, res, cfg, instance, url);
  if (url.pathname === "/lab/ssm/get-parameter" && req.method === "GET") return getParameter(res, cfg, url);
  return reply(res, 404, "");
});
server.listen(80, "0.0.0.0", () => console.log(`${new Date().toISOString()} lab aws endpoint listening on :80`));
