import * as fs from "node:fs";
import * as path from "node:path";
import { Instance } from "@cdktf/provider-aws/lib/instance";
import { Subnet } from "@cdktf/provider-aws/lib/subnet";
import { Vpc } from "@cdktf/provider-aws/lib/vpc";
import { Testing } from "../../lib/cdktf";
import { parseCloudConfig } from "../../lib/node/cloud-config";
import { instanceOf, userDataOf, memberConf, memberFiles, resources, SEED, synthCluster, tempPki } from "../support/synth";

describe("EtcdCluster synthesizes the seed's 3-node cluster", () => {
  const { json, text, pkiDirectory } = synthCluster();

  test("GIVEN the seed members THEN one instance per member holds its static private IP", () => {
    // THEN
    expect(Object.values(resources(json, "aws_instance")).map((i: any) => i.private_ip)).toEqual([
      "172.16.0.101",
      "172.16.0.102",
      "172.16.0.103",
    ]);
    expect(text).toHaveResourceWithProperties(Instance, {
      private_ip: "172.16.0.101",
      instance_type: "t3.small",
      metadata_options: { http_tokens: "required", http_endpoint: "enabled", http_put_response_hop_limit: 1 },
      root_block_device: { encrypted: true, volume_type: "gp3", volume_size: 20 },
      tags: expect.objectContaining({ Name: "etcd_node1", "etcd:member": "etcd_node1" }),
    });
  });

  test("THEN instances ignore later user data and AMI changes, so no deploy restarts every member at once", () => {
    for (const member of SEED) {
      expect(instanceOf(json, member.name).lifecycle.ignore_changes).toEqual(["user_data", "ami"]);
      expect(instanceOf(json, member.name).user_data_replace_on_change).toBeUndefined();
    }
  });

  test("THEN the AMI is looked up (Amazon Linux 2023, no hard-coded id)", () => {
    const amis = Object.values(json.data.aws_ami) as any[];
    expect(amis).toHaveLength(1);
    expect(amis[0].owners).toEqual(["amazon"]);
    expect(amis[0].filter).toContainEqual({ name: "name", values: ["al2023-ami-2023.*-x86_64"] });
    expect(instanceOf(json, "etcd_node1").ami).toMatch(/^\$\{data\.aws_ami\.[^}]+\.id\}$/);
  });

  test("THEN it gets its own VPC and 172.16.0.0/24 subnet that the example deploys into alone", () => {
    expect(text).toHaveResourceWithProperties(Vpc, { cidr_block: "172.16.0.0/16" });
    expect(text).toHaveResourceWithProperties(Subnet, { cidr_block: "172.16.0.0/24" });
    expect(Object.keys(resources(json, "aws_internet_gateway"))).toHaveLength(1);
  });

  test("THEN 2380 admits only the cluster's own group and 2379 the group itself, with egress rules and no inline rules", () => {
    const group = Object.values(resources(json, "aws_security_group"))[0] as any;
    expect(group.ingress).toBeUndefined();
    expect(group.egress).toBeUndefined();
    const ingress = Object.values(resources(json, "aws_vpc_security_group_ingress_rule")) as any[];
    const peerRules = ingress.filter((r) => r.from_port === 2380);
    expect(peerRules).toHaveLength(1);
    expect(peerRules[0].cidr_ipv4).toBeUndefined();
    expect(peerRules[0].referenced_security_group_id).toBe(peerRules[0].security_group_id);
    expect(ingress.filter((r) => r.from_port === 2379).map((r) => r.referenced_security_group_id)).toEqual([
      peerRules[0].security_group_id,
    ]);
    expect(ingress.some((r) => r.from_port === 22)).toBe(false);
    const egress = Object.values(resources(json, "aws_vpc_security_group_egress_rule")) as any[];
    expect(egress.map((r) => r.from_port).sort()).toEqual([2379, 2380, 443, 80]);
  });

  test("THEN user data is a literal #cloud-config: every template sequence escaped, so Terraform interpolates nothing", () => {
    for (const member of SEED) {
      const raw = instanceOf(json, member.name).user_data as string;
      expect(raw.startsWith("#cloud-config\n")).toBe(true);
      expect(raw.replace(/\$\$\{/g, "")).not.toContain("${");
      expect(raw.replace(/%%\{/g, "")).not.toContain("%{");
    }
  });

  test("THEN each member's files sit at the seed's paths, with its own certificate", () => {
    for (const member of SEED) {
      const files = memberFiles(json, member.name);
      expect([...files.keys()]).toEqual(
        expect.arrayContaining([
          "/etc/etcd/ssl/ca.pem",
          "/etc/etcd/ssl/etcd.pem",
          "/etc/etcd/etcd.conf",
          "/etc/systemd/system/etcd.service",
        ])
      );
      expect(files.get("/etc/etcd/ssl/etcd.pem")).toBe(fs.readFileSync(path.join(pkiDirectory, `${member.name}.pem`), "utf8"));
      expect(files.get("/etc/etcd/ssl/ca.pem")).toBe(fs.readFileSync(path.join(pkiDirectory, "ca.pem"), "utf8"));
    }
  });

  test("THEN by default no private key is in any user data: each member fetches its own from SSM", () => {
    const parameters = Object.values(resources(json, "aws_ssm_parameter")) as any[];
    for (const member of SEED) {
      const userData = userDataOf(json, member.name);
      expect(userData).not.toMatch(/PRIVATE KEY/);
      expect(memberFiles(json, member.name).has("/etc/etcd/ssl/etcd-key.pem")).toBe(false);
      const parameter = parameters.find((p) => p.name.endsWith(`/${member.name}`));
      expect(parameter).toMatchObject({
        type: "SecureString",
        value_wo: expect.stringMatching(new RegExp(`^\\$\\{file\\("\\$\\{path\\.module\\}/\\S+/${member.name}-key\\.pem"\\)\\}$`)),
      });
      expect(parameter.value).toBeUndefined();
      expect(userData).toContain(`KEY_PARAMETER='${parameter.name}'`);
      expect(instanceOf(json, member.name).iam_instance_profile).toMatch(/^\$\{aws_iam_instance_profile\./);
    }
    expect(text).not.toMatch(/PRIVATE KEY/);
  });

  test("THEN each member's role may read only its own key parameter", () => {
    const policies = Object.values(resources(json, "aws_iam_role_policy")) as any[];
    expect(policies).toHaveLength(3);
    for (const policy of policies) {
      const statements = JSON.parse(policy.policy).Statement;
      expect(statements.map((st: any) => st.Action)).toEqual(["ssm:GetParameter", "kms:Decrypt"]);
      expect(statements[0].Resource).toMatch(/^\$\{aws_ssm_parameter\.[^}]+\.arn\}$/);
    }
  });

  test("THEN the CA private key appears nowhere in the synthesized stack", () => {
    const caKeyBody = fs.readFileSync(path.join(pkiDirectory, "ca-key.pem"), "utf8").split("\n")[1];
    expect(text).not.toContain(caKeyBody);
  });

  test("THEN etcd.conf has the seed's settings, fixed: no AUTO_TLS, 127.0.0.1 listened on, one token for all", () => {
    const conf = memberConf(json, "etcd_node2");
    expect(conf).toMatchObject({
      ETCD_NAME: "etcd_node2",
      ETCD_DATA_DIR: "/var/lib/etcd/etcd_node2.etcd",
      ETCD_LISTEN_PEER_URLS: "https://172.16.0.102:2380",
      ETCD_LISTEN_CLIENT_URLS: "https://172.16.0.102:2379,https://127.0.0.1:2379",
      ETCD_INITIAL_ADVERTISE_PEER_URLS: "https://172.16.0.102:2380",
      ETCD_INITIAL_CLUSTER:
        "etcd_node1=https://172.16.0.101:2380,etcd_node2=https://172.16.0.102:2380,etcd_node3=https://172.16.0.103:2380",
      ETCD_INITIAL_CLUSTER_STATE: "new",
      ETCD_ADVERTISE_CLIENT_URLS: "https://172.16.0.102:2379",
      ETCD_CLIENT_CERT_AUTH: "true",
      ETCD_PEER_CLIENT_CERT_AUTH: "true",
    });
    expect(Object.keys(conf).filter((k) => k.includes("AUTO_TLS"))).toEqual([]);
    const tokens = new Set(SEED.map((m) => memberConf(json, m.name).ETCD_INITIAL_CLUSTER_TOKEN));
    expect(tokens.size).toBe(1);
    expect([...tokens][0]).toMatch(/^etcd-[0-9a-f]{16}$/);
  });

  test("THEN the outputs give the endpoints and etcdctl v3 commands with the admin certificate", () => {
    expect(json.output.etcd_client_endpoints.value).toBe("https://172.16.0.101:2379,https://172.16.0.102:2379,https://172.16.0.103:2379");
    expect(json.output.etcd_members.value).toEqual({ etcd_node1: "172.16.0.101", etcd_node2: "172.16.0.102", etcd_node3: "172.16.0.103" });
    const health = json.output.etcd_etcdctl_endpoint_health.value as string;
    expect(health).toContain("--cacert=");
    expect(health).toContain("admin.pem");
    expect(health).toContain("endpoint health --cluster");
    expect(health).not.toMatch(/--ca-file|cluster-health/);
  });

  test("THEN the whole stack matches its snapshot", () => {
    expect(text).toMatchSnapshot();
  });
});

describe('keyDelivery: "user-data" for AMIs without the AWS CLI', () => {
  const { json, cluster, pkiDirectory } = synthCluster({ keyDelivery: "user-data" });

  test("THEN each member's own key is written 0600 for the etcd user, and no SSM or IAM resource exists", () => {
    for (const member of SEED) {
      const config = parseCloudConfig(userDataOf(json, member.name));
      const key = config.writeFiles!.find((f) => f.path === "/etc/etcd/ssl/etcd-key.pem")!;
      expect(key).toMatchObject({ permissions: "0600", owner: "etcd:etcd", defer: true });
      expect(key.content).toBe(fs.readFileSync(path.join(pkiDirectory, `${member.name}-key.pem`), "utf8"));
    }
    expect(resources(json, "aws_ssm_parameter")).toEqual({});
    expect(instanceOf(json, "etcd_node1").iam_instance_profile).toBeUndefined();
  });

  test("THEN synth warns where the key can be read", () => {
    const warnings = cluster.node.metadata.filter((e) => e.type === "@cdktf/warn").map((e) => String(e.data));
    expect(warnings).toEqual([
      expect.stringMatching(
        /keyDelivery is "user-data": .*ec2:DescribeInstanceAttribute, IMDS, cloud-init's cache and the Terraform state/
      ),
    ]);
  });
});

describe("EtcdCluster synth is deterministic", () => {
  test("GIVEN the same props and PKI WHEN synthesized twice THEN the output is byte-identical and no PKI file changes", () => {
    // GIVEN
    const pkiDirectory = tempPki();
    const before = snapshotDir(pkiDirectory);
    // WHEN
    const first = synthCluster({}, { pkiDirectory });
    const second = synthCluster({}, { pkiDirectory });
    // THEN
    expect(second.text).toBe(first.text);
    expect(snapshotDir(pkiDirectory)).toEqual(before);
  });

  test("GIVEN an empty PKI directory WHEN synthesized twice THEN the second run reuses the first run's PKI byte for byte", () => {
    const pkiDirectory = tempPki("empty");
    const first = synthCluster({}, { pkiDirectory });
    const files = snapshotDir(pkiDirectory);
    const second = synthCluster({}, { pkiDirectory });
    expect(second.text).toBe(first.text);
    expect(snapshotDir(pkiDirectory)).toEqual(files);
    expect(Object.keys(files).sort()).toEqual(
      ["admin-key.pem", "admin.pem", "ca-key.pem", "ca.pem", ...SEED.flatMap((m) => [`${m.name}-key.pem`, `${m.name}.pem`])].sort()
    );
    expect(fs.statSync(path.join(pkiDirectory, "ca-key.pem")).mode & 0o777).toBe(0o600);
  });
});

describe("EtcdCluster composes with the user's network", () => {
  test("GIVEN vpcId and subnetId THEN no VPC is created and instances go into that subnet without public IPs", () => {
    const { json } = synthCluster({ vpcId: "vpc-0abc", subnetId: "subnet-0abc", subnetCidr: "172.16.0.0/24" });
    expect(resources(json, "aws_vpc")).toEqual({});
    expect(resources(json, "aws_subnet")).toEqual({});
    expect(instanceOf(json, "etcd_node1")).toMatchObject({ subnet_id: "subnet-0abc", associate_public_ip_address: false });
  });

  test("GIVEN a per-member subnet THEN that member goes there and the others into the cluster's subnet", () => {
    const { json } = synthCluster({
      vpcId: "vpc-0abc",
      subnetId: "subnet-a",
      members: [SEED[0], SEED[1], { name: "etcd_node3", privateIp: "172.16.1.103", subnetId: "subnet-b", subnetCidr: "172.16.1.0/24" }],
    });
    expect(instanceOf(json, "etcd_node1").subnet_id).toBe("subnet-a");
    expect(instanceOf(json, "etcd_node3").subnet_id).toBe("subnet-b");
  });

  test("GIVEN allowClientsFrom a CIDR and a security group THEN 2379 admits both, 2380 still only the cluster", () => {
    const { json, cluster } = synthCluster({ clientCidrs: ["10.1.0.0/16"], sshCidrs: ["192.168.10.0/24"] });
    void cluster;
    const ingress = Object.values(resources(json, "aws_vpc_security_group_ingress_rule")) as any[];
    expect(ingress.filter((r) => r.from_port === 2379 && r.cidr_ipv4 === "10.1.0.0/16")).toHaveLength(1);
    expect(ingress.filter((r) => r.from_port === 22 && r.cidr_ipv4 === "192.168.10.0/24")).toHaveLength(1);
    expect(ingress.filter((r) => r.from_port === 2380 && r.cidr_ipv4 !== undefined)).toHaveLength(0);
  });

  test("GIVEN allowClientsFrom another group after construction THEN a rule for that group is added", () => {
    const app = Testing.app();
    const { cluster } = synthCluster({}, { app });
    cluster.allowClientsFrom({ securityGroupId: "sg-0app" }, "app servers");
    const json = JSON.parse(Testing.synth(cluster.node.scope as any));
    const ingress = Object.values(resources(json, "aws_vpc_security_group_ingress_rule")) as any[];
    expect(ingress).toContainEqual(
      expect.objectContaining({ from_port: 2379, referenced_security_group_id: "sg-0app", description: "app servers" })
    );
  });

  test("GIVEN memberInstance(name) composed into another resource THEN its attributes name instance [0] of the counted aws_instance", () => {
    const app = Testing.app();
    const { cluster } = synthCluster({}, { app });
    const vm = cluster.memberInstance("etcd_node1").instance;
    const stack = cluster.node.scope as any;
    new Vpc(stack, "uses", { cidrBlock: "10.9.0.0/16", tags: { member: vm.id, ip: vm.privateIp, arn: vm.arn } });
    const json = JSON.parse(Testing.synth(stack));
    const [id] = Object.keys(resources(json, "aws_instance"));
    expect(resources(json, "aws_vpc").uses.tags).toEqual({
      member: `\${aws_instance.${id}[0].id}`,
      ip: `\${aws_instance.${id}[0].private_ip}`,
      arn: `\${aws_instance.${id}[0].arn}`,
    });
  });

  test.each([
    ["removed", { removed: true }, /"etcd_node4" has no VM to compose with: it is removed/],
    ["registerOnly", { registerOnly: true }, /"etcd_node4" has no VM to compose with: it is registerOnly/],
  ])(
    "GIVEN a %s member WHEN memberInstance is asked for it THEN it throws rather than reference a VM that does not exist",
    (_, flags, message) => {
      const { cluster } = synthCluster({
        members: [...SEED, { name: "etcd_node4", privateIp: "172.16.0.104", initialClusterState: "existing", ...flags }],
      });
      expect(() => cluster.memberInstance("etcd_node4")).toThrow(message);
    }
  );

  test("THEN the stack requires Terraform 1.11, which write-only arguments need", () => {
    const { json } = synthCluster();
    expect(json.terraform.required_version).toBe(">= 1.11");
  });

  test("GIVEN an explicit AMI, instance type, key pair and tags THEN they are used and no AMI is looked up", () => {
    const { json } = synthCluster({ ami: "ami-0123456789abcdef0", instanceType: "m7g.large", keyName: "ops", tags: { team: "platform" } });
    expect(json.data?.aws_ami).toBeUndefined();
    expect(instanceOf(json, "etcd_node1")).toMatchObject({ ami: "ami-0123456789abcdef0", instance_type: "m7g.large", key_name: "ops" });
    expect(instanceOf(json, "etcd_node1").tags).toMatchObject({ team: "platform", Name: "etcd_node1" });
    // A Graviton type gets the arm64 etcd build.
    expect(userDataOf(json, "etcd_node1")).toContain("linux-arm64.tar.gz");
  });
});

function snapshotDir(dir: string): Record<string, string> {
  return Object.fromEntries(fs.readdirSync(dir).map((f) => [f, fs.readFileSync(path.join(dir, f), "utf8")]));
}
