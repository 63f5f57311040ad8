import { Construct } from "constructs";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { VpcSecurityGroupEgressRule } from "@cdktf/provider-aws/lib/vpc-security-group-egress-rule";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import { DefaultTokenResolver, StringConcat, Token, Tokenization } from "../cdktf";
import { CLIENT_PORT, PEER_PORT } from "../cluster-members";
import { formatIpv4, parseCidr } from "../net/ipv4";

/** Who may reach etcd's client port: a network, or the members of another security group. */
export type EtcdClientSource = { readonly cidr: string } | { readonly securityGroupId: string };

export interface EtcdSecurityGroupProps {
  readonly vpcId: string;
  readonly name: string;
  readonly tags: Record<string, string>;
}

/**
 * The cluster's security group. Rules are separate resources (never inline, which Terraform would
 * fight over) so other stacks can add their own with allowClientsFrom(). A rule's id comes from
 * its source, so adding one never renames another, and allowing a source twice is a no-op, as
 * aws-cdk's SecurityGroup.addIngressRule skips a rule that exists.
 */
export class EtcdSecurityGroup extends Construct {
  readonly securityGroupId: string;
  private readonly tags: Record<string, string>;
  private readonly rules = new Set<string>();

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

  /** Lets a network or another security group reach etcd's client port 2379; a source already allowed is left as it is. */
  allowClientsFrom(source: EtcdClientSource, description = "etcd clients"): void {
    if ("cidr" in source) {
      const cidr = canonicalCidr(source.cidr, "allowClientsFrom({ cidr })");
      this.ingress(`clients-from-${cidr}`, { port: CLIENT_PORT, cidr }, description);
    } else {
      this.ingress(
        `clients-from-group-${this.sourceName(source.securityGroupId)}`,
        { port: CLIENT_PORT, securityGroupId: source.securityGroupId },
        description
      );
    }
  }

  /** Lets a network reach SSH on port 22; a network already allowed is left as it is. */
  allowSshFrom(cidr: string): void {
    const canonical = canonicalCidr(cidr, "allowSshFrom(cidr)");
    this.ingress(`ssh-from-${canonical}`, { port: 22, cidr: canonical }, "SSH for operators");
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
    const safeId = id.replace(/[^A-Za-z0-9-]/g, "_");
    if (this.rules.has(safeId)) return;
    this.rules.add(safeId);
    new kind(this, safeId, {
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

  /**
   * A security group id as a rule id: a literal "sg-..." as it is, a reference to another resource
   * as the Terraform expression it resolves to (aws_security_group.app.id), which does not change
   * with the order in which constructs were made.
   */
  private sourceName(securityGroupId: string): string {
    if (!Token.isUnresolved(securityGroupId)) return securityGroupId;
    // preparing: only read the reference, as cdktf's own prepare pass does, without registering it.
    const resolved = Tokenization.resolve(securityGroupId, {
      scope: this,
      preparing: true,
      resolver: new DefaultTokenResolver(new StringConcat()),
    });
    return typeof resolved === "string" ? resolved.replace(/^\$\{|\}$/g, "") : JSON.stringify(resolved);
  }
}

interface RulePeer {
  readonly port: number;
  readonly cidr?: string;
  readonly securityGroupId?: string;
}

/** The hook's own argument check: the props' CIDRs come checked, but allowClientsFrom is called by users' code. */
function canonicalCidr(cidr: string, where: string): string {
  const parsed = typeof cidr === "string" ? parseCidr(cidr) : undefined;
  if (!parsed) {
    throw new Error(`${where}: cidr is ${JSON.stringify(cidr)}: give a network in CIDR form with its host bits zero, e.g. "10.0.0.0/16"`);
  }
  return `${formatIpv4(parsed.network)}/${parsed.prefixLength}`;
}
