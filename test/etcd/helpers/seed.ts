import type { EtcdConfInput } from "../../../lib/etcd/etcd-conf";

/** etcd_node1 of the seed recipe: 172.16.0.101, in a cluster with .102 and .103. */
export function seedNode1Conf(settings: Record<string, string> = {}): EtcdConfInput {
  return {
    name: "etcd_node1",
    dataDir: "/var/lib/etcd/etcd_node1.etcd",
    listenPeerUrls: ["https://172.16.0.101:2380"],
    listenClientUrls: ["https://172.16.0.101:2379", "https://127.0.0.1:2379"],
    initialAdvertisePeerUrls: ["https://172.16.0.101:2380"],
    advertiseClientUrls: ["https://172.16.0.101:2379"],
    initialCluster: [
      { name: "etcd_node1", peerUrl: "https://172.16.0.101:2380" },
      { name: "etcd_node2", peerUrl: "https://172.16.0.102:2380" },
      { name: "etcd_node3", peerUrl: "https://172.16.0.103:2380" },
    ],
    initialClusterState: "new",
    initialClusterToken: "etcd-cluster",
    tls: { certFile: "/etc/etcd/ssl/etcd.pem", keyFile: "/etc/etcd/ssl/etcd-key.pem", trustedCaFile: "/etc/etcd/ssl/ca.pem" },
    settings,
  };
}
