import { App } from "cdktf";
import { SeedClusterStack } from "../seed-cluster/stack";
import { GROWN_MEMBERS } from "./members";

// The same stack as examples/seed-cluster, one deploy later: nodes 1-3 synthesize byte for byte
// as before, so Terraform only adds etcd_node4's resources.
const app = new App();
new SeedClusterStack(app, "seed-cluster", { members: GROWN_MEMBERS });
app.synth();
