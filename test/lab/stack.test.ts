import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readLabStack } from "../../lib/lab";
import { FIXTURE_PKI, makeStack, StackMember, THREE_MEMBERS } from "./make-stack";

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "etcd-lab-stack-"))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function stackOf(members: StackMember[], edit?: (json: { resource: Record<string, unknown> }) => void): string {
  makeStack(dir, FIXTURE_PKI, members);
  if (edit) {
    const file = join(dir, "cdk.tf.json");
    const json = JSON.parse(readFileSync(file, "utf8"));
    edit(json);
    writeFileSync(file, JSON.stringify(json));
  }
  return dir;
}

test("reads each member's IP, files, unit and EnvironmentFile from cdk.tf.json", () => {
  // GIVEN a synthesized 3-member stack in a VPC 172.16.0.0/16
  const stack = readLabStack(stackOf(THREE_MEMBERS));

  // THEN the members, their unit and configuration are read as the VM would see them
  expect(stack.members.map((m) => [m.name, m.privateIp])).toEqual(THREE_MEMBERS.map((m) => [m.name, m.ip]));
  expect(stack.cidr).toBe("172.16.0.0/16");
  const node1 = stack.members[0];
  expect(node1.unit).toEqual({
    path: "/etc/systemd/system/etcd.service",
    user: "etcd",
    group: undefined,
    environmentFile: "/etc/etcd/etcd.conf",
    execStart: ["/usr/local/bin/etcd"],
  });
  expect(node1.conf).toMatchObject({
    ETCD_NAME: "etcd_node1",
    ETCD_DATA_DIR: "/var/lib/etcd/etcd_node1.etcd",
    ETCD_LISTEN_CLIENT_URLS: "https://172.16.0.101:2379,https://127.0.0.1:2379",
    ETCD_INITIAL_CLUSTER_STATE: "new",
  });
  const key = node1.files.find((f) => f.path === "/etc/etcd/ssl/etcd-key.pem")!;
  expect(key).toMatchObject({ mode: 0o600, owner: "etcd:etcd", defer: true });
  expect(key.content).toBe(readFileSync(join(FIXTURE_PKI, "etcd_node1-key.pem"), "utf8"));
});

test("skips count-0 instances and reads gzip+base64 user data", () => {
  // GIVEN a stack where etcd_node3 was removed (count 0) and etcd_node2 ships user_data_base64
  const members = THREE_MEMBERS.map((m) => ({ ...m, absent: m.name === "etcd_node3", gzip: m.name === "etcd_node2" }));
  const stack = readLabStack(stackOf(members));

  // THEN only the present members are read, the gzipped one like the others
  expect(stack.members.map((m) => m.name)).toEqual(["etcd_node1", "etcd_node2"]);
  expect(stack.members[1].conf.ETCD_NAME).toBe("etcd_node2");
});

test("without a VPC the lab prefix is the /24, else the /16, holding every member", () => {
  const withoutVpc = (json: { resource: Record<string, unknown> }) => delete json.resource.aws_vpc;
  // GIVEN members in one /24 and no VPC resource THEN the /24
  expect(readLabStack(stackOf(THREE_MEMBERS, withoutVpc)).cidr).toBe("172.16.0.0/24");
  // GIVEN members across /24s THEN the /16
  const spread = THREE_MEMBERS.map((m, i) => ({ ...m, ip: `172.16.${i}.10` }));
  expect(readLabStack(stackOf(spread, withoutVpc)).cidr).toBe("172.16.0.0/16");
});

test("refuses a member whose ETCD_NAME differs from its etcd:member tag", () => {
  // GIVEN an instance tagged differently from the name in its etcd.conf
  const stackDir = stackOf(THREE_MEMBERS, (json) => {
    const instances = json.resource.aws_instance as Record<string, { tags: Record<string, string> }>;
    instances.etcd_node1.tags["etcd:member"] = "other";
  });

  // THEN reading the stack fails, naming the resource
  expect(() => readLabStack(stackDir)).toThrow('aws_instance.etcd_node1: ETCD_NAME "etcd_node1" differs from the etcd:member tag "other"');
});
