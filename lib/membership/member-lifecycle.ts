import { Construct } from "constructs";
import { DataResource, type ITerraformDependable } from "../cdktf";
import { moveFrom } from "../moved";
import type { ClusterMember } from "../cluster-members";
import { shellWord } from "../shell-quote";

/**
 * How the provisioners reach etcd. "direct": from the deployer with the admin certificate (paths
 * relative to the synthesized stack's directory). "ssm": Run Command on a member, found by its IP
 * and the cluster's tag, with the member's own certificate at the paths the user data wrote.
 */
export type MembershipTransport =
  | { readonly kind: "direct"; readonly cacert: string; readonly cert: string; readonly key: string }
  | {
      readonly kind: "ssm";
      /** The members' etcd:cluster tag. */
      readonly clusterTag: string;
      /** The stack's region (a Terraform reference): kept in each step's input, where destroy-time steps can read it. */
      readonly region: string;
      readonly onMember: { readonly url: string; readonly cacert: string; readonly cert: string; readonly key: string };
    };

export interface MembershipAccess {
  /** The membership script (lib/membership/etcd-membership.js, shipped as a Terraform asset). */
  readonly script: string;
  readonly transport: MembershipTransport;
  /** The add and remove steps take a backup on a member first (ssm transport, backups on). */
  readonly backupFirst?: boolean;
}

export interface MemberLifecycleProps {
  readonly member: ClusterMember;
  /** Client URLs of the other running members: who the provisioners talk to. */
  readonly endpoints: readonly string[];
  readonly access: MembershipAccess;
  /** Seconds a joining member may take to boot, catch up and be promoted. */
  readonly joinTimeoutSeconds: number;
  /** What must finish before this member registers: the previous joiner's promotion. */
  readonly after?: ITerraformDependable;
}

/**
 * The Terraform resources around one member's VM that keep etcd's member list in step with it.
 *
 * A joining member ("existing") goes through three phases, each idempotent:
 *   register (member add --learner) -> the VM boots with INITIAL_CLUSTER_STATE=existing -> promote.
 * Every member gets a destroy-time `member remove`, on a resource that depends on the VM so that
 * Terraform destroys it first, while the VM still runs. `removed: true` sets count to 0 rather
 * than deleting the blocks, because Terraform skips the destroy provisioner of a deleted block.
 *
 * The removes of a whole-cluster destroy must not run at once: a removed member shuts itself down,
 * and parallel removes that each ask only the *other* members end with the last one finding nobody
 * to ask. So each member's step depends on the previous member's (Terraform destroys them last
 * member first, one at a time), and a remove asks the member itself first: it still runs, since
 * its VM goes only after this step, and it alone can say "I am the last member".
 */
export class MemberLifecycle extends Construct {
  /** What the member's VM must wait for (phase 1), if it joins a running cluster. */
  readonly registration?: DataResource;
  private readonly props: MemberLifecycleProps;

  constructor(scope: Construct, id: string, props: MemberLifecycleProps) {
    super(scope, id);
    this.props = props;
    if (props.member.initialClusterState === "existing") {
      this.registration = new DataResource(this, "register", {
        count: props.member.removed ? 0 : 1,
        input: this.input(),
        dependsOn: props.after ? [props.after] : undefined,
        provisioners: [{ type: "local-exec", command: this.command("add") }],
      });
    }
  }

  /**
   * The member as a voter, for as long as its VM runs: created after the VM (phase 3, promote, for
   * a joining member) and destroyed before it (member remove). It depends on the previous member's
   * voter (see above); the next joining member waits for it, and the next member's voter depends on it.
   * `vm` is the instance and what the member needs to run (its data volume's attachment, which
   * stops the VM when it goes): all of it outlives the member's removal.
   */
  addVoter(vm: readonly ITerraformDependable[], previousVoter?: ITerraformDependable): DataResource {
    const { member } = this.props;
    const joining = member.initialClusterState === "existing";
    const voter = new DataResource(this, "voter", {
      // registerOnly: stop after registering the learner, with no VM and no promotion.
      count: member.removed || member.registerOnly ? 0 : 1,
      input: this.input(),
      dependsOn: previousVoter ? [...vm, previousVoter] : [...vm],
      provisioners: [
        ...(joining ? [{ type: "local-exec" as const, command: this.command("promote") }] : []),
        { type: "local-exec" as const, when: "destroy" as const, command: this.command("remove") },
      ],
    });
    // Up to 0.1 this resource was "member": state written then moves to the new address instead of
    // being destroyed (which would run member remove) and created again.
    moveFrom(voter, this, ["member"]);
    return voter;
  }

  /**
   * What the steps keep in state. A destroy-time provisioner may read only `self`, so what it needs
   * beyond the config (the region) is here. A change of input updates the resource in place: no
   * step runs again, and no member is removed.
   */
  private input(): Record<string, string> {
    const { member, access } = this.props;
    return access.transport.kind === "ssm" ? { peer_url: member.peerUrl, region: access.transport.region } : { peer_url: member.peerUrl };
  }

  private command(step: "add" | "promote" | "remove"): string {
    const { member, access, joinTimeoutSeconds } = this.props;
    // Only a remove can ask the member itself: it is not running yet when it is added or promoted.
    const endpoints = step === "remove" ? [member.clientUrl, ...this.props.endpoints] : this.props.endpoints;
    const args = [
      "node",
      access.script,
      step,
      `--name=${member.name}`,
      `--peer-url=${member.peerUrl}`,
      `--endpoints=${endpoints.join(",")}`,
      ...transportFlags(access.transport),
      `--timeout=${step === "promote" ? joinTimeoutSeconds : 300}`,
      ...(access.backupFirst && step !== "promote" ? ["--backup-first=true"] : []),
    ];
    return args.map(shellWord).join(" ");
  }
}

function transportFlags(transport: MembershipTransport): string[] {
  if (transport.kind === "direct") return [`--cacert=${transport.cacert}`, `--cert=${transport.cert}`, `--key=${transport.key}`];
  const { onMember } = transport;
  return [
    "--transport=ssm",
    `--cluster-tag=${transport.clusterTag}`,
    // try(): a step created before 0.3 has no region in its state; the AWS CLI's own configuration then decides.
    '--region=${try(self.input.region, "")}',
    `--on-member-url=${onMember.url}`,
    `--on-member-cacert=${onMember.cacert}`,
    `--on-member-cert=${onMember.cert}`,
    `--on-member-key=${onMember.key}`,
  ];
}
