import { Construct } from "constructs";
import { DataResource, type ITerraformDependable } from "../cdktf";
import type { ClusterMember } from "../cluster-members";

/** How the provisioners reach the cluster: paths relative to the synthesized stack's directory. */
export interface MembershipAccess {
  /** The membership script (lib/membership/etcd-membership.js, shipped as a Terraform asset). */
  readonly script: string;
  readonly cacert: string;
  readonly cert: string;
  readonly key: string;
}

export interface MemberLifecycleProps {
  readonly member: ClusterMember;
  /** Client URLs of the other running members: who the provisioners talk to. */
  readonly endpoints: readonly string[];
  readonly access: MembershipAccess;
  /** Seconds a joining member may take to boot, catch up and be promoted. */
  readonly joinTimeoutSeconds: number;
  /** Stop after registering the learner: no VM, no promotion. */
  readonly registerOnly: boolean;
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
        input: { peer_url: props.member.peerUrl },
        dependsOn: props.after ? [props.after] : undefined,
        provisioners: [{ type: "local-exec", command: this.command("add") }],
      });
    }
  }

  /**
   * Phase 3 and the destroy step, which depend on the member's VM and on the previous member's
   * step (see above). Returns what the next joining member must wait for, and the next member's
   * step depends on.
   */
  attach(instance: ITerraformDependable, previousMember?: ITerraformDependable): DataResource {
    const { member, registerOnly } = this.props;
    const joining = member.initialClusterState === "existing";
    return new DataResource(this, "member", {
      count: member.removed || registerOnly ? 0 : 1,
      input: { peer_url: member.peerUrl },
      dependsOn: previousMember ? [instance, previousMember] : [instance],
      provisioners: [
        ...(joining ? [{ type: "local-exec" as const, command: this.command("promote") }] : []),
        { type: "local-exec" as const, when: "destroy" as const, command: this.command("remove") },
      ],
    });
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
      `--cacert=${access.cacert}`,
      `--cert=${access.cert}`,
      `--key=${access.key}`,
      `--timeout=${step === "promote" ? joinTimeoutSeconds : 300}`,
    ];
    return args.map(shellQuote).join(" ");
  }
}

/** Single-quotes what the shell would otherwise split or expand (paths may hold spaces). */
function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=,@%+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
