#!/usr/bin/env node
// The operator CLI: what the recipe did with etcdctl, on the same code the deploy runs.
import { addLearner, parseFlags, promote, remove } from "../membership/etcd-membership";
import * as path from "node:path";
import { formatExpiry, readCertificateExpiry } from "./certificate-expiry";
import { clientFor, unreachableMessage } from "./client";
import { formatHealth, formatMemberList, gatherStatus } from "./cluster-status";
import { resolveConnection, UsageError, type Connection, type ConnectionFlags } from "./connection";
import { LAB_USAGE, labCommand } from "./lab-command";
import { COMMAND_HELP, isHelpFlag, versionLine, wantsHelp } from "./help";
import { PKI_USAGE, pkiCommand } from "./pki-command";
import { RESTORE_CHECK_USAGE, restoreCheckCommand } from "./restore-check";
import { BACKUP_USAGE, backupCommand } from "./backup-command";
import { ROLL_USAGE, rollCommand } from "./roll-command";

const USAGE = `usage: etcd-cluster <command> [--stack DIR | --endpoints URLS --pki DIR]
       etcd-cluster <command> --help | help <command> | --version
commands:
  status                      member list, cluster health and certificate expiry
  members                     member list only
  add     --peer-url URL      register a member as a learner (phase 1)
  promote --peer-url URL      promote a started learner to a voting member (phase 3)
  remove  --peer-url URL      remove a member (before its VM goes)
${ROLL_USAGE}
${PKI_USAGE}
${BACKUP_USAGE}
${RESTORE_CHECK_USAGE}
${LAB_USAGE}
connection, in order of precedence:
  --endpoints URL,URL --pki DIR   the PKI directory's ca.pem, admin.pem, admin-key.pem
  --stack cdktf.out/stacks/NAME   the outputs of a synthesized EtcdCluster
  ETCDCTL_ENDPOINTS, ETCDCTL_CACERT, ETCDCTL_CERT, ETCDCTL_KEY
transport:
  --transport=direct              dial the endpoints from this machine (inside the VPC; the default)
  --transport=ssm                 Run Command on each endpoint's member, with AWS credentials only;
                                  members found by --cluster-tag (or the --stack's), in --region`;

export async function main(argv: string[], out: (line: string) => void = console.log): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "--version" || command === "-V" || command === "version") {
    out(versionLine());
    return 0;
  }
  if (command === "help" && rest.length > 0) return main([...rest, "--help"], out);
  // Its own arguments (a stack directory, a member name) and flags.
  if (command === "lab") return labCommand(rest, out);
  if (command !== undefined && COMMAND_HELP[command] && wantsHelp(rest)) {
    out(COMMAND_HELP[command]);
    return 0;
  }
  if (command === "pki") return pkiCommand(rest, out);
  if (command === "restore-check") return restoreCheckCommand(rest, out);
  if (command === "backup") return backupCommand(rest, out);
  if (command === "roll") return rollCommand(rest, out);
  const flags = parseFlags(rest);
  let connection: Connection | undefined;
  try {
    switch (command) {
      case "status":
      case "members": {
        connection = resolveConnection(flags as ConnectionFlags);
        const status = await gatherStatus(clientFor(connection, out), connection.endpoints);
        formatMemberList(status).forEach((l) => out(l));
        if (command === "status") {
          formatHealth(status).forEach((l) => out(l));
          formatExpiry(readCertificateExpiry(path.dirname(connection.cacert), new Date())).forEach((l) => out(l));
        }
        return status.health.every((h) => h.healthy) ? 0 : 1;
      }
      case "add":
      case "promote":
      case "remove": {
        if (!flags["peer-url"]) throw new UsageError(`${command} needs --peer-url https://IP:2380`);
        connection = resolveConnection(flags as ConnectionFlags);
        const step = { add: addLearner, promote, remove }[command];
        await step({
          client: clientFor(connection, out),
          peerUrl: flags["peer-url"],
          name: flags.name,
          timeoutMs: Number(flags.timeout ?? 600) * 1000,
          log: out,
        });
        return 0;
      }
      default:
        out(USAGE);
        return command === undefined || command === "help" || isHelpFlag(command) ? 0 : 2;
    }
  } catch (err) {
    out(`etcd-cluster ${command}: ${(connection && unreachableMessage(err, connection)) ?? (err as Error).message}`);
    return err instanceof UsageError ? 2 : 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
