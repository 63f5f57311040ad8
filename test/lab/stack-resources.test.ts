import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readStackResources } from "../../lib/lab/stack-resources";

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "etcd-lab-resources-"))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function stack(resource: Record<string, unknown>): string {
  writeFileSync(join(dir, "cdk.tf.json"), JSON.stringify({ resource }));
  return dir;
}

test("reads provisioners, count 0, and dependencies both explicit and by reference", () => {
  // GIVEN a terraform_data with create- and destroy-time local-exec, depending on an instance that references a subnet
  const resources = readStackResources(
    stack({
      aws_subnet: { net: { cidr_block: "172.16.0.0/24" } },
      aws_instance: { vm: { count: 0, subnet_id: "${aws_subnet.net.id}" } },
      terraform_data: {
        step: {
          depends_on: ["aws_instance.vm"],
          provisioner: [
            { "local-exec": { command: "echo $${HOME} up", environment: { A: "1" } } },
            { "local-exec": { command: "echo down", when: "destroy", on_failure: "continue", working_dir: "sub" } },
          ],
        },
      },
    })
  );

  // THEN the instance exists not (count 0) and depends on the subnet it references
  expect(resources.get("aws_instance.vm")).toMatchObject({ exists: false, dependsOn: ["aws_subnet.net"] });
  // AND the step's provisioners are split by `when`, Terraform's template escapes undone
  expect(resources.get("terraform_data.step")).toEqual({
    address: "terraform_data.step",
    type: "terraform_data",
    exists: true,
    dependsOn: ["aws_instance.vm"],
    onCreate: [
      {
        command: "echo ${HOME} up",
        environment: { A: "1" },
        interpreter: ["/bin/sh", "-c"],
        continueOnFailure: false,
        workingDir: undefined,
      },
    ],
    onDestroy: [{ command: "echo down", environment: {}, interpreter: ["/bin/sh", "-c"], continueOnFailure: true, workingDir: "sub" }],
  });
});

test("refuses what the lab cannot run as Terraform would: other provisioners, interpolated commands, unknown dependencies", () => {
  expect(() => readStackResources(stack({ terraform_data: { a: { provisioner: [{ "remote-exec": { inline: ["true"] } }] } } }))).toThrow(
    "terraform_data.a: a remote-exec provisioner is not modelled by the lab (only local-exec)"
  );
  expect(() =>
    readStackResources(stack({ terraform_data: { a: { provisioner: [{ "local-exec": { command: "echo ${self.id}" } }] } } }))
  ).toThrow("terraform_data.a: local-exec command is not a literal string");
  expect(() => readStackResources(stack({ terraform_data: { a: { depends_on: ["terraform_data.nope"] } } }))).toThrow(
    "terraform_data.a: depends_on names terraform_data.nope, which is not in the stack"
  );
});
