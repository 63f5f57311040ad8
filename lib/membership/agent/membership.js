#!/usr/bin/env node
// @ts-check
// Membership changes that survive being re-run: each step looks at `member list` first and only
// acts on what is missing, so a deploy that failed half-way can simply be run again.
// Run by the synthesized terraform_data provisioners (add, promote, remove) and by the operator CLI.
"use strict";

const { EtcdClient, EtcdServerError, EtcdUnreachableError } = require("./etcd-client");

/**
 * @typedef {import("./etcd-client").Member} Member
 * @typedef {(line: string) => void} Log
 * @typedef {{ client: EtcdClient, peerUrl: string, name?: string, timeoutMs: number, log: Log, sleep?: (ms: number) => Promise<void> }} StepOptions
 */

// etcd refuses membership changes for ~5 s after a member connects (strict reconfig check), and
// takes one learner at a time: both clear up by themselves, so they are waited out.
const TRANSIENT = [/unhealthy cluster/, /too many learner members/, /not enough started members/, /leader changed/, /timed out/, /no leader/];
const LEARNER_NOT_READY = /can only promote a learner member which is in sync with leader|learner member not found|not started/;

class MembershipError extends Error {}

/** Phase 1: register the member as a learner, which does not count toward quorum. */
/** @param {StepOptions} o @returns {Promise<Member>} */
async function addLearner(o) {
  return retrying(o, `add ${label(o)} as a learner`, async () => {
    const existing = findByPeerUrl((await o.client.memberList()).members, o.peerUrl);
    if (existing) {
      o.log(`${label(o)} is already a member (${describe(existing)}): nothing to add`);
      return existing;
    }
    const added = await o.client.memberAdd(o.peerUrl, true);
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
    await o.client.memberRemove(member.ID);
    o.log(`removed ${label(o)} (${member.ID})`);
  });
}

class NotYet extends Error {}

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
      if (reason !== lastReason || delay >= 4000) {
        o.log(`waiting to ${what} (${Math.round(elapsed / 1000)} s of ${Math.round(o.timeoutMs / 1000)} s): ${reason}`);
      }
      lastReason = reason;
      await sleep(delay);
      delay = Math.min(delay * 2, 4000);
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
 * Command line for the provisioners:
 *   node membership.js add|promote|remove --peer-url URL [--name NAME] [--timeout SECONDS]
 *     [--endpoints URL,URL] [--cacert F] [--cert F] [--key F]
 * Connection flags default to etcdctl's environment (ETCDCTL_ENDPOINTS, ETCDCTL_CACERT, ...).
 * @param {string[]} argv
 */
async function main(argv) {
  const [command, ...rest] = argv;
  const steps = { add: addLearner, promote, remove };
  const flags = parseFlags(rest);
  const step = /** @type {Record<string, (o: StepOptions) => Promise<unknown>>} */ (steps)[command ?? ""];
  if (!step || !flags["peer-url"]) {
    process.stderr.write("usage: membership.js add|promote|remove --peer-url URL [--name NAME] [--timeout SECONDS] [--endpoints URLS] [--cacert F] [--cert F] [--key F]\n");
    return 2;
  }
  const log = (/** @type {string} */ line) => process.stdout.write(`[etcd ${command}] ${line}\n`);
  try {
    const client = new EtcdClient({
      endpoints: (flags.endpoints ?? process.env.ETCDCTL_ENDPOINTS ?? "").split(",").filter(Boolean),
      cacert: flags.cacert ?? process.env.ETCDCTL_CACERT ?? "",
      cert: flags.cert ?? process.env.ETCDCTL_CERT ?? "",
      key: flags.key ?? process.env.ETCDCTL_KEY ?? "",
    });
    const timeoutMs = Number(flags.timeout ?? 600) * 1000;
    await step({ client, peerUrl: flags["peer-url"], name: flags.name, timeoutMs, log });
    return 0;
  } catch (err) {
    process.stderr.write(`[etcd ${command}] failed: ${/** @type {Error} */ (err).message}\n`);
    if (command === "promote") {
      process.stderr.write(`[etcd ${command}] the member is still a learner, which does not vote: the cluster's quorum is unchanged. Fix the member (its VM's /var/log/cloud-init-output.log and journalctl -u etcd), then run the deploy again.\n`);
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

module.exports = { addLearner, promote, remove, findByPeerUrl, parseFlags, MembershipError, main };

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
