// The lab's S3: s3rver (a real S3-compatible server) inside the AWS endpoint's process, so that it
// lives and dies with the endpoint and `lab down` has nothing more to stop. Members reach it on TCP
// beside the endpoint; the host (the provider's bucket handlers, tests) on a Unix socket in the
// lab's home, never through the lab's addresses. s3rver is a development dependency: where it
// cannot be required (the published package), the lab runs without S3 and says so.
"use strict";
const { createServer } = require("node:http");

/**
 * Starts S3 if s3rver is there. The members' IMDS credentials are its only key pair: a call that
 * did not sign with what instance metadata handed out is refused, as AWS refuses it.
 * @param {{ dir: string, socket: string, port: number, accessKeyId: string, secretAccessKey: string }} options
 * @returns {Promise<string>} a line for the endpoint's log
 */
async function startLabS3(options) {
  let S3rver, AWSAccount;
  // By a computed name: s3rver ships no types, and the build must not need it.
  const load = (/** @type {string} */ name) => require(name);
  try {
    S3rver = load("s3rver");
    AWSAccount = load("s3rver/lib/models/account");
  } catch (e) {
    return `no S3 in this lab: s3rver cannot be required (${/** @type {Error} */ (e).message.split("\n")[0]})`;
  }
  AWSAccount.DUMMY_ACCOUNT.createKeyPair(options.accessKeyId, options.secretAccessKey);
  const s3 = new S3rver({ directory: options.dir, silent: true, vhostBuckets: false, configureBuckets: [] });
  const handler = s3.callback();
  const listen = (/** @type {any[]} */ ...at) =>
    new Promise((resolve, reject) =>
      createServer(handler)
        .on("error", reject)
        .listen(...at, () => resolve(undefined))
    );
  await listen(options.port, "0.0.0.0");
  await listen(options.socket);
  return `S3 (s3rver) on :${options.port} and ${options.socket}, objects under ${options.dir}`;
}

module.exports = { startLabS3 };
