// `--help` for every command and subcommand, and `--version`. Help is answered before anything
// else is read (a connection, a stack, a lab), so it works anywhere, also with nothing deployed.
import * as fs from "node:fs";
import * as path from "node:path";
import { DEFAULT_LAB } from "../lab/lab";

const CONNECTION = `connection, in order of precedence:
  --endpoints URL,URL --pki DIR   the PKI directory's ca.pem, admin.pem, admin-key.pem
  --stack cdktf.out/stacks/NAME   the outputs of a synthesized EtcdCluster
  ETCDCTL_ENDPOINTS, ETCDCTL_CACERT, ETCDCTL_CERT, ETCDCTL_KEY
transport:
  --transport=direct  dial the endpoints from this machine, inside the VPC (the default)
  --transport=ssm     SSM Run Command on each endpoint's member, with AWS credentials only
  --cluster-tag TAG   the members' etcd:cluster tag (default: the --stack's)
  --region R          their region (default: the --stack's, else the AWS CLI's)`;

const MEMBERSHIP_FLAGS = `  --peer-url URL    the member's peer URL, https://IP:2380 (required)
  --name NAME       its etcd name, for the messages (default: as etcd reports it)
  --timeout SECONDS how long to wait for the cluster (default 600)`;

/** Help of each top-level command, by name. */
export const COMMAND_HELP: Readonly<Record<string, string>> = {
  status: `usage: etcd-cluster status [--stack DIR | --endpoints URLS --pki DIR] [--transport direct|ssm]
Member list, the health of every member, and when each certificate in the PKI directory expires
(a warning 30 days ahead). Exit 0 when every member is healthy, else 1.
${CONNECTION}`,
  members: `usage: etcd-cluster members [--stack DIR | --endpoints URLS --pki DIR] [--transport direct|ssm]
The member list only, as etcdctl member list prints it (learners and unstarted members marked).
${CONNECTION}`,
  add: `usage: etcd-cluster add --peer-url URL [--name NAME] [--timeout SECONDS] [connection]
Phase 1 of a join: register the member as a learner (etcd member add --learner); a second run changes nothing.
${MEMBERSHIP_FLAGS}
${CONNECTION}`,
  promote: `usage: etcd-cluster promote --peer-url URL [--name NAME] [--timeout SECONDS] [connection]
Phase 3 of a join: promote the started learner to a voting member, once it has caught up.
${MEMBERSHIP_FLAGS}
${CONNECTION}`,
  roll: `usage: etcd-cluster roll --stack DIR [--member-timeout SECONDS] [connection]
Replace, one at a time, every member's VM that differs from the synthesized stack in what a VM is
launched with (AMI, instance type, user data: etcd's version, tuning, the boot script). A plain
\`cdktf deploy\` never replaces a member; this does, through Terraform in DIR (as cdktf deploy runs
it there, so deploy the stack once first): it refuses to start unless every member is a healthy
voter, applies the configuration, then replaces followers first and the leader last (handing its
leadership over first), each with \`terraform apply -replace\`, and goes on only once the new VM's
member is healthy, caught up and has its old member id (its data volume carried its data). It
prints each step with its time. Stopped half-way, it goes on where it stopped when run again.
  --member-timeout SECONDS  how long a replaced member may take to rejoin (default 900)
Terraform is \`terraform\` on PATH, or ETCD_CLUSTER_TERRAFORM.
${CONNECTION}`,
  remove: `usage: etcd-cluster remove --peer-url URL [--name NAME] [--timeout SECONDS] [connection]
Remove a member from the cluster, before its VM goes. The last member is left in place.
${MEMBERSHIP_FLAGS}
${CONNECTION}`,
  backup: `usage: etcd-cluster backup now [--reason TEXT] [connection] | backup list --location s3://BUCKET/PREFIX/ [--region R] [--endpoint-url URL]
  now    run etcd-backup --force on a member (the first the endpoints name that can), through SSM
         Run Command (--transport=ssm, --stack DIR or --cluster-tag): the snapshot and its metadata
         go where the members' timer puts them. Exit 1 if the backup fails, with its error.
  list   the snapshots under the prefix (the stack's <id>_backup_location output), newest first:
         time, member, revision, size, and those without metadata (an upload that did not finish).
${CONNECTION}`,
  "restore-check": `usage: etcd-cluster restore-check SNAPSHOT [--etcd-bin DIR] [--region R] [--endpoint-url URL]
Verify a snapshot etcd-backup uploaded, offline, as a member's etcd-restore would before restoring it:
its SHA-256 against the .json metadata beside it, that it decompresses, etcd's own snapshot status
(etcdutl, else etcdctl, from --etcd-bin or PATH) and its revision and hash against the metadata.
SNAPSHOT is a NAME.snapshot.db.gz file or an s3:// URI (downloaded with the AWS CLI). Exit 0 when good, else 1.`,
  pki: `usage: etcd-cluster pki push|pull DIR --prefix /NAME [--kms-key-id KEY] [--force] [--region R] [--endpoint-url URL]
Copy a PKI directory to SSM Parameter Store (one SecureString per file under /NAME) and back, with
the AWS CLI on PATH and its credentials, so a team and its CI deploy with the one PKI of the cluster.
  push              every .pem file of DIR (--kms-key-id: a customer-managed key; default aws/ssm)
  pull              into DIR: directory 0700, keys 0600; other versions of a file only with --force
  --region R        the parameters' region (default: the AWS CLI's)
  --endpoint-url U  SSM's endpoint, e.g. a VPC endpoint`,
};

const NAME_FLAG = `  --name LAB        the lab (default ${DEFAULT_LAB})`;
const PKI_FLAG = "  --pki DIR         the PKI directory (default: the one the stack's etcdctl_environment output names)";
const VM_FLAG = `  --vm              members are full qemu VMs (KVM where it works, else TCG: minutes), not containers
  --outside         the deployer has no route to the members, as a laptop or a CI runner outside the VPC`;
const member = (what: string) => `usage: etcd-cluster lab ${what} MEMBER [--name LAB]\n`;

/** Help of each `lab` subcommand, by name. */
export const LAB_HELP: Readonly<Record<string, string>> = {
  deploy: `usage: etcd-cluster lab deploy STACK_DIR [--pki DIR] [--vm] [--outside] [--name LAB]
cdktf deploy of a synthesized stack (cdktf.out/stacks/NAME), with this host standing in for AWS: the
real terraform init + apply. Starts the lab if it is not running. Root, Debian's etcd,
systemd-container, debootstrap and Terraform >= 1.11 on PATH.
${PKI_FLAG}
${VM_FLAG}
${NAME_FLAG}`,
  roll: `usage: etcd-cluster lab roll STACK_DIR [--name LAB]
etcd-cluster roll --stack STACK_DIR (see \`etcd-cluster roll --help\`), run where the lab's deployer
stands: the real Terraform against the lab, reaching the members as the deployer does (Run Command
when the lab's deployer is outside the VPC). Deploy the stack to the lab first.
${NAME_FLAG}`,
  up: `usage: etcd-cluster lab up STACK_DIR [--pki DIR] [--vm] [--outside] [--name LAB]
lab deploy to a lab that is not running yet (refused if it is).
${PKI_FLAG}
${VM_FLAG}
${NAME_FLAG}`,
  destroy: `usage: etcd-cluster lab destroy STACK_DIR [--name LAB]
cdktf destroy: the real terraform destroy; the lab goes once the stack is gone.
${NAME_FLAG}`,
  plan: `usage: etcd-cluster lab plan STACK_DIR [--name LAB]
terraform plan -detailed-exitcode against the lab: exit 0 with no changes, 2 with changes.
${NAME_FLAG}`,
  status: `usage: etcd-cluster lab status [--name LAB]
etcd-cluster status, run inside the lab against its members.
${NAME_FLAG}`,
  stop: `${member("stop")}Stop the member's machine (systemd shuts it down), as EC2 stops an instance.\n${NAME_FLAG}`,
  start: `${member("start")}Start the member's stopped machine, as EC2 starts an instance.\n${NAME_FLAG}`,
  reboot: `${member("reboot")}Reboot the member's machine, as EC2 reboots an instance.\n${NAME_FLAG}`,
  kill: `${member("kill")}Power loss: the member's machine stops at once.\n${NAME_FLAG}`,
  wipe: `${member("wipe")}Delete a stopped member's etcd data directory (a lost disk).\n${NAME_FLAG}`,
  partition: `${member("partition")}Cut the member off the lab network; lab heal reconnects it.\n${NAME_FLAG}`,
  evidence: `${member("evidence")}cloud-init status, failed units and etcd's journal, read inside the member's machine.\n${NAME_FLAG}`,
  heal: `usage: etcd-cluster lab heal [--name LAB]
Reconnect every partitioned member.
${NAME_FLAG}`,
  down: `usage: etcd-cluster lab down [--name LAB]
Emergency cleanup: remove everything the lab created, whatever Terraform's state says.
${NAME_FLAG}`,
};

export function isHelpFlag(arg: string | undefined): boolean {
  return arg === "--help" || arg === "-h";
}

/** True when argv (after the command) asks for help: `--help`/`-h` anywhere before a `--`. */
export function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  return (end < 0 ? argv : argv.slice(0, end)).some(isHelpFlag);
}

/** "etcd-cluster 0.1.0 (cdktf-etcd-cluster)": the package this CLI was installed or run from. */
export function versionLine(): string {
  const pkg = findPackageJson(__dirname);
  return pkg ? `etcd-cluster ${pkg.version} (${pkg.name})` : "etcd-cluster (version unknown: no package.json above this file)";
}

// dist/lib/cli (installed) and lib/cli (this repository, ts-node) sit at different depths.
function findPackageJson(from: string): { name: string; version: string } | undefined {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const file = path.join(dir, "package.json");
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, "utf8"));
      if (typeof pkg.name === "string" && pkg.name.endsWith("etcd-cluster")) return { name: pkg.name, version: String(pkg.version) };
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}
