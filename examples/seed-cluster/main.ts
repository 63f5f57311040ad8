import { App } from "cdktf";
import { SeedClusterStack } from "./stack";

const app = new App();
new SeedClusterStack(app, "seed-cluster");
app.synth();
