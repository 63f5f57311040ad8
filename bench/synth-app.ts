// One synth as a user's app does it, in its own process: node dist/bench/synth-app.js N PKI OUT
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { EtcdCluster } from "../lib";
import { App, TerraformStack } from "../lib/cdktf";

const [count, pkiDirectory, outdir] = process.argv.slice(2);
const app = new App({ outdir });
const stack = new TerraformStack(app, "bench");
new AwsProvider(stack, "aws", { region: "us-east-1" });
new EtcdCluster(stack, "etcd", {
  members: Array.from({ length: Number(count) }, (_, i) => ({ name: `etcd_node${i + 1}`, privateIp: `172.16.0.${101 + i}` })),
  pki: { directory: pkiDirectory },
});
app.synth();
