import { Construct } from "constructs";
import { TerraformOutput } from "./cdktf";
import type { ClusterMember } from "./cluster-members";
import { describeCertificate } from "./pki/certificate";
import type { PkiMaterial } from "./pki/pki-directory";

export interface ClusterOutputsProps {
  /** Prefix of the output names, so two clusters in one stack do not clash. */
  readonly outputPrefix: string;
  readonly members: readonly ClusterMember[];
  /** The certificates, for their expiry. */
  readonly pki: PkiMaterial;
  /** Where etcdctl finds the CA and the admin certificate, as the user reads them (PkiMaterial.paths, maybe made relative). */
  readonly files: { readonly caCert: string; readonly adminCert: string; readonly adminKey: string };
  /** s3://bucket/prefix/ of the cluster's snapshots, when it has backups. */
  readonly backupLocation?: string;
}

/**
 * What an operator needs after `cdktf deploy`: the endpoints and the etcdctl v3 commands that
 * replace the recipe's v2 `--ca-file ... cluster-health`, using the admin client certificate.
 */
export class ClusterOutputs extends Construct {
  constructor(scope: Construct, id: string, props: ClusterOutputsProps) {
    super(scope, id);
    const endpoints = props.members.map((m) => m.clientUrl).join(",");
    const { caCert, adminCert, adminKey } = props.files;
    const flags = `--endpoints=${endpoints} --cacert=${caCert} --cert=${adminCert} --key=${adminKey}`;
    const outputs: Record<string, { value: unknown; description: string }> = {
      client_endpoints: { value: endpoints, description: "etcd client URLs, comma-separated as ETCDCTL_ENDPOINTS takes them" },
      members: {
        value: Object.fromEntries(props.members.map((m) => [m.name, m.privateIp])),
        description: "member name to private IP",
      },
      etcdctl_environment: {
        value: [
          "export ETCDCTL_API=3",
          `export ETCDCTL_ENDPOINTS=${endpoints}`,
          `export ETCDCTL_CACERT=${caCert}`,
          `export ETCDCTL_CERT=${adminCert}`,
          `export ETCDCTL_KEY=${adminKey}`,
        ].join("\n"),
        description: "shell lines that point etcdctl v3 at the cluster with the admin certificate",
      },
      certificate_expiry: {
        value: Object.fromEntries(
          [
            ["ca", props.pki.caCertPem],
            ["admin", props.pki.admin.certPem],
            ...props.members.map((m) => [m.name, props.pki.members.get(m.name)!.certPem]),
          ].map(([name, pem]) => [name, describeCertificate(pem).notAfter.toISOString()])
        ),
        description: "when each certificate expires; `etcd-cluster status` warns 30 days ahead",
      },
      etcdctl_member_list: { value: `etcdctl ${flags} member list -w table`, description: "list the members" },
      etcdctl_endpoint_health: { value: `etcdctl ${flags} endpoint health --cluster`, description: "check every member's health" },
      ...(props.backupLocation
        ? {
            backup_location: {
              value: props.backupLocation,
              description: "where the snapshots go: `etcd-cluster backup list --location <this>`, restoreFrom.snapshotUri under it",
            },
          }
        : {}),
    };
    const prefix = props.outputPrefix.replace(/[^A-Za-z0-9_]/g, "_");
    for (const [name, { value, description }] of Object.entries(outputs)) {
      new TerraformOutput(this, name, { value, description }).overrideLogicalId(`${prefix}_${name}`);
    }
  }
}
