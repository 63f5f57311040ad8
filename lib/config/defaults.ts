// Every @default of EtcdClusterProps that is a value, in one place: the resolve step applies
// them once, and nothing after it looks at the props again.
import { DEFAULT_ETCD_VERSION } from "../etcd/releases";

export const DEFAULTS = {
  instanceType: "t3.small",
  vpcCidr: "172.16.0.0/16",
  subnetCidr: "172.16.0.0/24",
  rootVolumeSizeGiB: 20,
  etcdVersion: DEFAULT_ETCD_VERSION,
  dataVolume: { sizeGiB: 20, iops: 3000, throughputMiBps: 125, onDestroy: "snapshot" },
  keyDelivery: "ssm",
  membershipTransport: "ssm",
  ssmVpcEndpoints: false,
  joinTimeoutSeconds: 900,
  pkiRoot: ".etcd-pki",
  keySize: 2048,
  caValidityDays: 3650,
  certificateValidityDays: 825,
  backup: {
    schedule: "*:0/15",
    prefixRoot: "etcd",
    recentDays: 7,
    dailyDays: 365,
    metricNamespace: "EtcdCluster",
  },
} as const;
