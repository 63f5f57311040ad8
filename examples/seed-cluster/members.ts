import type { EtcdMemberProps } from "../../lib";

/** The recipe's three bootstrap nodes. Other examples import these so nodes 1-3 stay identical. */
export const SEED_MEMBERS: EtcdMemberProps[] = [
  { name: "etcd_node1", privateIp: "172.16.0.101" },
  { name: "etcd_node2", privateIp: "172.16.0.102" },
  { name: "etcd_node3", privateIp: "172.16.0.103" },
];
