import * as fs from "node:fs";
import { Testing } from "cdktf";
import { EtcdStack } from "./stack";

describe("EtcdStack", () => {
  // Testing.app() makes a temporary outdir per app; remove them, or every run leaves some in /tmp.
  const outdirs: string[] = [];
  afterAll(() => outdirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

  test("GIVEN the stack THEN its Terraform configuration matches the snapshot", () => {
    const app = Testing.app();
    outdirs.push(app.outdir);
    // Under Testing.app(), EtcdCluster uses its seeded test PKI: no .etcd-pki directory is read or
    // written, and the output is the same on every machine and checkout.
    expect(Testing.synth(new EtcdStack(app, "etcd"))).toMatchSnapshot();
  });

  test("GIVEN the stack THEN every member is a t3.small with its static IP", () => {
    const app = Testing.app();
    outdirs.push(app.outdir);
    const json = JSON.parse(Testing.synth(new EtcdStack(app, "etcd")));
    const instances = Object.values<any>(json.resource.aws_instance);
    expect(instances.map((i) => [i.instance_type, i.private_ip])).toEqual([
      ["t3.small", "172.16.0.101"],
      ["t3.small", "172.16.0.102"],
      ["t3.small", "172.16.0.103"],
    ]);
  });
});
