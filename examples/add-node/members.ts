import type { EtcdMemberProps } from "../../lib";
import { SEED_MEMBERS } from "../seed-cluster/members";

/**
 * The recipe's "add etcd_node4": one more entry. `cdktf deploy` registers it as a learner, boots
 * it with ETCD_INITIAL_CLUSTER_STATE=existing, then promotes it. To take it out again, set
 * `removed: true` and deploy; to stop after registration (the recipe's "unstarted" member list),
 * set `registerOnly: true`.
 */
export const NODE4: EtcdMemberProps = { name: "etcd_node4", privateIp: "172.16.0.104", initialClusterState: "existing" };

export const GROWN_MEMBERS: EtcdMemberProps[] = [...SEED_MEMBERS, NODE4];
