export { EtcdCluster } from "./etcd-cluster";
export type { EtcdClusterProps, EtcdMemberProps, EtcdInstallOptions, EtcdPkiOptions } from "./props";
export type { EtcdTuning } from "./etcd/tuning";
export type { EtcdClientSource } from "./aws/security-group";
export { EtcdClusterConfigError, type ConfigProblem } from "./config/config-error";
export { USER_DATA_LIMIT_BYTES } from "./config/user-data-limit";
export { ETCD_RELEASES, DEFAULT_ETCD_VERSION } from "./etcd/releases";
export { REQUIRED_TERRAFORM } from "./etcd-cluster";
export type { MemberInstance } from "./aws/member-instance";
