// What `restoreFrom` adds to the synthesized stack: a new token, the restore command on each
// bootstrap member (run by the boot script before etcd's first start), and a grant to read that one
// snapshot.
import { USER_DATA_LIMIT_BYTES } from "../../lib/config/user-data-limit";
import { parseCloudConfig } from "../../lib/host/cloud-config";
import { memberFiles, NODE4, resources, SEED, synthCluster, userDataOf } from "../support/synth";

const SNAPSHOT = "s3://acme-etcd-backups/etcd/etcd-0123456789abcdef/20261203T081228Z-etcd_node1-rev11.snapshot.db.gz";

describe("restoreFrom a snapshot", () => {
  const plain = synthCluster();
  const { json, cluster } = synthCluster({ members: [...SEED, NODE4], restoreFrom: { snapshotUri: SNAPSHOT } });

  test("THEN the cluster gets a token of its own, not the one the same stack has without restoreFrom", () => {
    expect(cluster.initialClusterToken).toMatch(/^etcd-[0-9a-f]{16}$/);
    expect(cluster.initialClusterToken).not.toBe(plain.cluster.initialClusterToken);
  });

  test("THEN each bootstrap member restores that snapshot under the new token into its data directory, before etcd starts", () => {
    for (const member of SEED) {
      const files = memberFiles(json, member.name);
      const restore = files.get("/usr/local/sbin/etcd-restore")!;
      expect(restore).toContain(`SNAPSHOT_URI='${SNAPSHOT}'`);
      expect(restore).toContain(`CLUSTER_TOKEN='${cluster.initialClusterToken}'`);
      expect(restore).toContain(`MEMBER='${member.name}'`);
      expect(restore).toContain(`PEER_URL='https://${member.privateIp}:2380'`);
      expect(restore).toContain(`DATA_DIR='/var/lib/etcd/${member.name}.etcd'`);
      expect(restore).toContain(
        "INITIAL_CLUSTER='etcd_node1=https://172.16.0.101:2380,etcd_node2=https://172.16.0.102:2380,etcd_node3=https://172.16.0.103:2380'"
      );
      // The same data directory and token etcd.conf gives etcd.
      const conf = files.get("/etc/etcd/etcd.conf")!;
      expect(conf).toContain(`ETCD_DATA_DIR="/var/lib/etcd/${member.name}.etcd"`);
      expect(conf).toContain(`ETCD_INITIAL_CLUSTER_TOKEN="${cluster.initialClusterToken}"`);
      const boot = files.get("/usr/local/sbin/etcd-bootstrap")!;
      const main = boot.slice(boot.indexOf("main() {"));
      expect(main.indexOf("'/usr/local/sbin/etcd-restore' || fail")).toBeGreaterThan(main.indexOf("fetch_key"));
      expect(main.indexOf("'/usr/local/sbin/etcd-restore' || fail")).toBeLessThan(main.indexOf("start_etcd"));
      const written = parseCloudConfig(userDataOf(json, member.name)).writeFiles!.find((f) => f.path === "/usr/local/sbin/etcd-restore");
      expect(written).toMatchObject({ compress: true, permissions: "0755" });
    }
  });

  test("THEN a member that joins later syncs from the others: no restore, and no grant to read the snapshot", () => {
    const files = memberFiles(json, "etcd_node4");
    expect(files.has("/usr/local/sbin/etcd-restore")).toBe(false);
    expect(files.get("/usr/local/sbin/etcd-bootstrap")).not.toContain("etcd-restore");
    const grants = Object.values(resources(json, "aws_iam_role_policy")).filter((p: any) =>
      String(p.name_prefix).startsWith("etcd-restore")
    );
    expect(grants.map((g: any) => g.role)).toHaveLength(3);
    expect(grants.some((g: any) => String(g.role).includes("etcd_node4"))).toBe(false);
  });

  test("THEN each bootstrap member may read the snapshot and its metadata, and nothing else", () => {
    const grants = Object.values(resources(json, "aws_iam_role_policy")).filter((p: any) =>
      String(p.name_prefix).startsWith("etcd-restore")
    );
    for (const grant of grants as any[]) {
      const [statement, ...others] = JSON.parse(grant.policy).Statement;
      expect(others).toEqual([]);
      expect(statement.Action).toBe("s3:GetObject");
      expect(statement.Resource.map((r: string) => r.replace(/^arn:\$\{[^}]+\}:/, "arn:<partition>:"))).toEqual([
        "arn:<partition>:s3:::acme-etcd-backups/etcd/etcd-0123456789abcdef/20261203T081228Z-etcd_node1-rev11.snapshot.db.gz",
        "arn:<partition>:s3:::acme-etcd-backups/etcd/etcd-0123456789abcdef/20261203T081228Z-etcd_node1-rev11.json",
      ]);
    }
  });

  test("GIVEN backups, a restore and keys in the user data together THEN every member's user data fits EC2's 16 KB", () => {
    const both = synthCluster({ backup: {}, restoreFrom: { snapshotUri: SNAPSHOT }, keyDelivery: "user-data" });
    for (const member of SEED) expect(Buffer.byteLength(userDataOf(both.json, member.name))).toBeLessThan(USER_DATA_LIMIT_BYTES);
  });
});
