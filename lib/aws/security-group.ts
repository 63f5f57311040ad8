import { Construct } from "constructs";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { VpcSecurityGroupEgressRule } from "@cdktf/provider-aws/lib/vpc-security-group-egress-rule";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import { CLIENT_PORT, PEER_PORT } from "../cluster-members";
import { parseCidr } from "../net/ipv4";

/** Who may reach etcd's client port: a network, or the members of another security group. */
export type EtcdClientSource = { readonly cidr: string } | { readonly securityGroupId: string };

export interface EtcdSecurityGroupProps {
  readonly vpcId: string;
  readonly name: string;
  readonly tags: Record<string, string>;
}

/**
 * The cluster's security group. Rules are separate resources (never inline, which Terraform would
 * fight over) so other stacks can add their own with allowClientsFrom().
 */
export class EtcdSecurityGroup extends Construct {
  readonly securityGroupId: string;
  private readonly tags: Record<string, string>;
  private readonly ruleIds = new Set<string>();

  constructor(scope: Construct, id: string, props: EtcdSecurityGroupProps) {
    super(scope, id);
    this.tags = props.tags;
    const group = new SecurityGroup(this, "group", {
      namePrefix: `${props.name}-`,
      description: `etcd cluster ${props.name}: clients on ${CLIENT_PORT}, peers on ${PEER_PORT}`,
      vpcId: props.vpcId,
      tags: props.tags,
      lifecycle: { createBeforeDestroy: true },
    });
    this.securityGroupId = group.id;

    // Raft traffic only ever comes from other members.
    this.ingress("peers-from-self", { port: PEER_PORT, securityGroupId: this.securityGroupId }, "etcd peers (raft)");
    this.ingress("clients-from-self", { port: CLIENT_PORT, securityGroupId: this.securityGroupId }, "etcd clients: members themselves");

    this.egress("egress-https", { port: 443, cidr: "0.0.0.0/0" }, "etcd release download, package repositories, AWS APIs");
    this.egress("egress-http", { port: 80, cidr: "0.0.0.0/0" }, "distribution package mirrors that serve plain HTTP");
    this.egress("egress-peers", { port: PEER_PORT, securityGroupId: this.securityGroupId }, "etcd peers (raft)");
    this.egress(
      "egress-clients",
      { port: CLIENT_PORT, securityGroupId: this.securityGroupId },
      "etcd clients: health checks between members"
    );
  }

  /** Lets a network or another security group reach etcd's client port 2379. */
  allowClientsFrom(source: EtcdClientSource, description = "etcd clients"): void {
    if ("cidr" in source) {
      requireCidr(source.cidr, "allowClientsFrom({ cidr })");
      this.ingress(`clients-from-${source.cidr}`, { port: CLIENT_PORT, cidr: source.cidr }, description);
    } else {
      this.ingress(`clients-from-group-${this.ruleIds.size}`, { port: CLIENT_PORT, securityGroupId: source.securityGroupId }, description);
    }
  }

  /** Lets a network reach SSH on port 22. */
  allowSshFrom(cidr: string): void {
    requireCidr(cidr, "allowSshFrom(cidr)");
    this.ingress(`ssh-from-${cidr}`, { port: 22, cidr }, "SSH for operators");
  }

  private ingress(id: string, peer: RulePeer, description: string): void {
    this.rule(VpcSecurityGroupIngressRule, id, peer, description);
  }

  private egress(id: string, peer: RulePeer, description: string): void {
    this.rule(VpcSecurityGroupEgressRule, id, peer, description);
  }

  private rule(
    kind: typeof VpcSecurityGroupIngressRule | typeof VpcSecurityGroupEgressRule,
    id: string,
    peer: RulePeer,
    description: string
  ): void {
    new kind(this, this.ruleId(id), {
      securityGroupId: this.securityGroupId,
      ipProtocol: "tcp",
      fromPort: peer.port,
      toPort: peer.port,
      cidrIpv4: peer.cidr,
      referencedSecurityGroupId: peer.securityGroupId,
      description,
      tags: this.tags,
    });
  }

  private ruleId(id: string): string {
    const safe = id.replace(/[^A-Za-z0-9-]/g, "_");
    if (this.ruleIds.has(safe)) throw new Error(`EtcdSecurityGroup: a rule "${id}" already exists: allow each source once`);
    this.ruleIds.add(safe);
    return safe;
  }
}

interface RulePeer {
  readonly port: number;
  readonly cidr?: string;
  readonly securityGroupId?: string;
}

function requireCidr(cidr: string, where: string): void {
  if (!parseCidr(cidr)) {
    throw new Error(`${where}: cidr is ${JSON.stringify(cidr)}: give a network in CIDR form with its host bits zero, e.g. "10.0.0.0/16"`);
  }
}
