import * as fs from "node:fs";
import * as path from "node:path";
import { Instance } from "@cdktf/provider-aws/lib/instance";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { Subnet } from "@cdktf/provider-aws/lib/subnet";
import { Vpc } from "@cdktf/provider-aws/lib/vpc";
import { Testing } from "../../lib/cdktf";
import { parseCloudConfig } from "../../lib/host/cloud-config";
import { describeCertificate } from "../../lib/pki/certificate";
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
      root_block_device: {
        encrypted: true,
        volume_type: "gp3",
        volume_size: 20,
        tags: { "etcd:cluster": expect.stringMatching(/^etcd-/) },
      },
      tags: expect.objectContaining({ Name: "etcd_node1", "etcd:member": "etcd_node1" }),
    });
  });

  test("THEN instances ignore later user data, AMI and instance type changes, so no deploy replaces or stops every member at once", () => {
    for (const member of SEED) {
      expect(instanceOf(json, member.name).lifecycle.ignore_changes).toEqual(["user_data", "ami", "instance_type"]);
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

  test("THEN user data is a literal #cloud-config: every template sequence escaped, so Terraform interpolates only the member's data volume id", () => {
    for (const member of SEED) {
      const raw = instanceOf(json, member.name).user_data as string;
      expect(raw.startsWith("#cloud-config\n")).toBe(true);
      const volume = Object.entries(resources(json, "aws_ebs_volume")).find(
        ([, v]: [string, any]) => v.tags["etcd:member"] === member.name
      )![0];
      const interpolated = raw.replace(/\$\$\{/g, "").match(/\$\{[^}]*\}/g);
      expect(interpolated).toEqual([`\${aws_ebs_volume.${volume}[0].id}`]);
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
      expect(memberFiles(json, member.name).get("/usr/local/sbin/etcd-bootstrap")).toContain(`KEY_PARAMETER='${parameter.name}'`);
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

  test("THEN each member's voter step depends on its VM, its data volume's attachment and the previous member's voter, and runs member remove at destroy", () => {
    const steps = resources(json, "terraform_data");
    const voterOf = (name: string) => {
      const id = Object.keys(steps).find((key) => key.startsWith(`etcd_${name}-membership_voter_`));
      if (!id) throw new Error(`no voter step for ${name}`);
      return { address: `terraform_data.${id}`, ...steps[id] };
    };
    const [node1, node2, node3] = SEED.map((m) => voterOf(m.name));
    // A bootstrap member is never promoted: its step only removes it at destroy.
    expect(node1.provisioner).toEqual([
      { "local-exec": { when: "destroy", command: expect.stringContaining(" remove --name=etcd_node1 ") } },
    ]);
    expect(node1.count).toBe(1);
    const vm = (n: number) => [
      expect.stringMatching(new RegExp(`^aws_instance\\.etcd_etcd_node${n}_instance_[0-9A-F]+$`)),
      expect.stringMatching(new RegExp(`^aws_volume_attachment\\.etcd_etcd_node${n}-data_attachment_[0-9A-F]+$`)),
    ];
    expect(node1.depends_on).toEqual(vm(1));
    // Chained, so a whole-cluster destroy removes one member at a time, last member first.
    expect(node2.depends_on).toEqual([...vm(2), node1.address]);
    expect(node3.depends_on).toEqual([...vm(3), node2.address]);
    // The remove asks the member itself first, then the others: by default through Run Command on
    // a member found by its IP and the cluster's tag, with that member's own certificate.
    const remove = node3.provisioner[0]["local-exec"].command as string;
    expect(remove).toContain("--endpoints=https://172.16.0.103:2379,https://172.16.0.101:2379,https://172.16.0.102:2379");
    expect(remove).toContain(" --transport=ssm --cluster-tag=etcd-");
    expect(remove).toContain(
      " --on-member-url=https://127.0.0.1:2379 --on-member-cacert=/etc/etcd/ssl/ca.pem --on-member-cert=/etc/etcd/ssl/etcd.pem --on-member-key=/etc/etcd/ssl/etcd-key.pem --timeout=300"
    );
    // The region is read from the step's own state: a destroy-time provisioner may only read self.
    expect(remove).toContain(`'--region=\${try(self.input.region, "")}'`);
    expect(node3.input).toEqual({
      peer_url: "https://172.16.0.103:2380",
      region: expect.stringMatching(/^\$\{data\.aws_region\.[^}]+\.region\}$/),
    });
    expect(remove).not.toMatch(/admin(-key)?\.pem/);
    // Bootstrap members register nothing.
    expect(Object.keys(steps).filter((key) => key.includes("_register_"))).toEqual([]);
  });

  test('THEN each voter step takes over the state of the "member" step it was called up to 0.1, through a moved block', () => {
    const voters = Object.keys(resources(json, "terraform_data")).filter((key) => key.includes("-membership_voter_"));
    const moved = (json.moved as { from: string; to: string }[]).filter((m) => m.to.startsWith("terraform_data."));
    expect(moved).toHaveLength(3);
    expect(moved.map((m) => m.to).sort()).toEqual(voters.map((id) => `terraform_data.${id}`).sort());
    // The addresses 0.1 synthesized for these three members: cdktf's hash of the old construct path.
    expect(moved.map((m) => m.from).sort()).toEqual([
      "terraform_data.etcd_etcd_node1-membership_member_3E5D26DD",
      "terraform_data.etcd_etcd_node2-membership_member_4ADFCE10",
      "terraform_data.etcd_etcd_node3-membership_member_8F21B4A6",
    ]);
  });

  test("THEN each member's role and instance profile take over the state they had under its key parameter up to 0.2", () => {
    const moved = (json.moved as { from: string; to: string }[]).filter((m) => !m.to.startsWith("terraform_data."));
    const roles = Object.keys(resources(json, "aws_iam_role")).map((id) => `aws_iam_role.${id}`);
    const profiles = Object.keys(resources(json, "aws_iam_instance_profile")).map((id) => `aws_iam_instance_profile.${id}`);
    expect(moved.map((m) => m.to).sort()).toEqual([...roles, ...profiles].sort());
    expect(moved.map((m) => m.from).sort()).toEqual([
      "aws_iam_instance_profile.etcd_etcd_node1-key_profile_08D9F6C2",
      "aws_iam_instance_profile.etcd_etcd_node2-key_profile_9EC4BE90",
      "aws_iam_instance_profile.etcd_etcd_node3-key_profile_3C5113C0",
      "aws_iam_role.etcd_etcd_node1-key_role_592F89CE",
      "aws_iam_role.etcd_etcd_node2-key_role_C05040C6",
      "aws_iam_role.etcd_etcd_node3-key_role_1BD72DF4",
    ]);
  });

  test("THEN each member's role carries AmazonSSMManagedInstanceCore in the stack's partition, attached before its VM boots", () => {
    const attachments = Object.entries(resources(json, "aws_iam_role_policy_attachment")) as [string, any][];
    expect(attachments).toHaveLength(3);
    for (const member of SEED) {
      const [id, attachment] = attachments.find(([key]) => key.startsWith(`etcd_${member.name}-role_`))!;
      expect(attachment.policy_arn).toMatch(
        /^arn:\$\{data\.aws_partition\.[^}]+\.partition\}:iam::aws:policy\/AmazonSSMManagedInstanceCore$/
      );
      expect(instanceOf(json, member.name).depends_on).toContain(`aws_iam_role_policy_attachment.${id}`);
      expect(instanceOf(json, member.name).iam_instance_profile).toMatch(/^\$\{aws_iam_instance_profile\./);
    }
    // No interface endpoints unless asked: the cluster's own subnet reaches SSM through its internet gateway.
    expect(resources(json, "aws_vpc_endpoint")).toEqual({});
  });

  test("THEN the membership script ships inside the stack and every provisioner runs it with node", () => {
    const commands = Object.values(resources(json, "terraform_data")).flatMap((r: any) =>
      (r.provisioner ?? []).map((p: any) => p["local-exec"].command)
    );
    expect(commands).toHaveLength(3);
    for (const command of commands)
      expect(command).toMatch(/^node assets\/etcd_membership-script_[0-9A-F]+\/[0-9A-F]+\/etcd-membership\.js (add|promote|remove) /);
  });
});

describe('keyDelivery: "user-data" for AMIs without the AWS CLI', () => {
  const { json, cluster, pkiDirectory } = synthCluster({ keyDelivery: "user-data" });

  test("THEN each member's own key is written 0600 for the etcd user, and no key parameter exists", () => {
    for (const member of SEED) {
      const config = parseCloudConfig(userDataOf(json, member.name));
      const key = config.writeFiles!.find((f) => f.path === "/etc/etcd/ssl/etcd-key.pem")!;
      expect(key).toMatchObject({ permissions: "0600", owner: "etcd:etcd", defer: true });
      expect(key.content).toBe(fs.readFileSync(path.join(pkiDirectory, `${member.name}-key.pem`), "utf8"));
    }
    expect(resources(json, "aws_ssm_parameter")).toEqual({});
    // The role stays for the membership steps' Run Command, with nothing but the managed-instance policy.
    expect(Object.values(resources(json, "aws_iam_role_policy"))).toEqual([]);
    expect(Object.values(resources(json, "aws_iam_role_policy_attachment"))).toHaveLength(3);
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

describe('membershipTransport: "direct" for a deployer inside the VPC', () => {
  const { json } = synthCluster({ membershipTransport: "direct", keyDelivery: "user-data" });

  test("THEN the steps dial the members with the admin certificate, and keep only the peer URL in state", () => {
    const steps = Object.entries(resources(json, "terraform_data"))
      .filter(([id]) => id.includes("-membership_"))
      .map(([, step]) => step as any);
    const commands = steps.flatMap((r) => (r.provisioner ?? []).map((p: any) => p["local-exec"].command as string));
    expect(commands).toHaveLength(3);
    for (const command of commands) {
      expect(command).toMatch(/--cacert=\S+\/ca\.pem --cert=\S+\/admin\.pem --key=\S+\/admin-key\.pem --timeout=300$/);
      expect(command).not.toContain("--transport=");
    }
    for (const step of steps) expect(Object.keys(step.input)).toEqual(["peer_url"]);
  });

  test("THEN with user-data key delivery nothing of IAM or SSM is synthesized", () => {
    expect(resources(json, "aws_iam_role")).toEqual({});
    expect(json.data.aws_region).toBeUndefined();
    expect(instanceOf(json, "etcd_node1").iam_instance_profile).toBeUndefined();
  });
});

describe("ssmVpcEndpoints: true for members in a subnet without a route to SSM", () => {
  const { json } = synthCluster({ ssmVpcEndpoints: true });

  test("THEN ssm, ec2messages and ssmmessages interface endpoints with private DNS admit HTTPS from the members only", () => {
    const endpoints = Object.values(resources(json, "aws_vpc_endpoint")) as any[];
    expect(endpoints.map((e) => e.service_name.replace(/\$\{[^}]+\}/, "REGION")).sort()).toEqual([
      "com.amazonaws.REGION.ec2messages",
      "com.amazonaws.REGION.ssm",
      "com.amazonaws.REGION.ssmmessages",
    ]);
    for (const endpoint of endpoints) expect(endpoint).toMatchObject({ vpc_endpoint_type: "Interface", private_dns_enabled: true });
    const https = (Object.values(resources(json, "aws_vpc_security_group_ingress_rule")) as any[]).filter((r) => r.from_port === 443);
    expect(https).toHaveLength(1);
    expect(https[0].referenced_security_group_id).toMatch(/^\$\{aws_security_group\.etcd_security-group_/);
    expect(https[0].cidr_ipv4).toBeUndefined();
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
    expect(Object.keys(before)).toContain(".gitignore");
  });

  test("GIVEN an empty PKI directory WHEN synthesized twice THEN the second run reuses the first run's PKI byte for byte", () => {
    const pkiDirectory = tempPki("empty");
    const first = synthCluster({}, { pkiDirectory });
    const files = snapshotDir(pkiDirectory);
    const second = synthCluster({}, { pkiDirectory });
    expect(second.text).toBe(first.text);
    expect(snapshotDir(pkiDirectory)).toEqual(files);
    expect(Object.keys(files).sort()).toEqual(
      [
        ".gitignore",
        "admin-key.pem",
        "admin.pem",
        "ca-key.pem",
        "ca.pem",
        ...SEED.flatMap((m) => [`${m.name}-key.pem`, `${m.name}.pem`]),
      ].sort()
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

  test("GIVEN clientCidrs, sshCidrs and allowClientsFrom a security group THEN 2379 admits the network and the group, 22 the SSH network, 2380 still only the cluster", () => {
    // GIVEN
    const app = Testing.app();
    const { cluster } = synthCluster({ clientCidrs: ["10.1.0.0/16"], sshCidrs: ["192.168.10.0/24"] }, { app });
    // WHEN
    cluster.allowClientsFrom({ securityGroupId: "sg-0app" }, "app servers");
    // THEN
    const json = JSON.parse(Testing.synth(cluster.node.scope as any));
    const ingress = Object.values(resources(json, "aws_vpc_security_group_ingress_rule")) as any[];
    const ownGroup = ingress.find((r) => r.from_port === 2380).security_group_id;
    expect(
      ingress
        .filter((r) => r.from_port === 2379)
        .map((r) => r.cidr_ipv4 ?? r.referenced_security_group_id)
        .sort()
    ).toEqual([ownGroup, "10.1.0.0/16", "sg-0app"].sort());
    expect(ingress.filter((r) => r.from_port === 22).map((r) => r.cidr_ipv4)).toEqual(["192.168.10.0/24"]);
    expect(ingress.filter((r) => r.from_port === 2380).map((r) => r.referenced_security_group_id)).toEqual([ownGroup]);
  });

  test("GIVEN a source allowed twice THEN allowClientsFrom adds no second rule, as addIngressRule skips one that exists", () => {
    // GIVEN a CIDR from the props and a group
    const app = Testing.app();
    const { cluster } = synthCluster({ clientCidrs: ["10.1.0.0/16"] }, { app });
    const stack = cluster.node.scope as any;
    const apps = new SecurityGroup(stack, "apps", { name: "apps" });
    // WHEN both are allowed again
    cluster.allowClientsFrom({ cidr: "10.1.0.0/16" });
    cluster.allowClientsFrom({ securityGroupId: apps.id });
    cluster.allowClientsFrom({ securityGroupId: apps.id }, "again");
    // THEN each source has one rule
    const ingress = Object.values(resources(JSON.parse(Testing.synth(stack)), "aws_vpc_security_group_ingress_rule")) as any[];
    expect(ingress.filter((r) => r.cidr_ipv4 === "10.1.0.0/16")).toHaveLength(1);
    expect(ingress.filter((r) => r.referenced_security_group_id === "${aws_security_group.apps.id}")).toHaveLength(1);
  });

  test("GIVEN rules added in another order, or another rule before them THEN no rule's address changes", () => {
    // Rule ids come from the source, not a counter: adding a rule never renames another (which would replace it).
    const addresses = (clientCidrs: string[], groups: string[]) => {
      const app = Testing.app();
      const { cluster } = synthCluster({ clientCidrs }, { app });
      const stack = cluster.node.scope as any;
      for (const name of groups) cluster.allowClientsFrom({ securityGroupId: new SecurityGroup(stack, name, { name }).id });
      const rules = resources(JSON.parse(Testing.synth(stack)), "aws_vpc_security_group_ingress_rule");
      return Object.entries(rules).map(([id, r]: [string, any]) => `${id} ${r.cidr_ipv4 ?? r.referenced_security_group_id}`);
    };
    const before = addresses([], ["apps"]);
    const after = addresses(["10.1.0.0/16"], ["batch", "apps"]);
    expect(after).toEqual(expect.arrayContaining(before));
    expect(after).toHaveLength(before.length + 2);
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
    expect(memberFiles(json, "etcd_node1").get("/usr/local/sbin/etcd-bootstrap")).toContain("linux-arm64.tar.gz");
  });
});

function snapshotDir(dir: string): Record<string, string> {
  return Object.fromEntries(fs.readdirSync(dir).map((f) => [f, fs.readFileSync(path.join(dir, f), "utf8")]));
}

describe("EtcdCluster pins its CA in Terraform's state", () => {
  const { json, pkiDirectory } = synthCluster();
  const fingerprint = describeCertificate(fs.readFileSync(path.join(pkiDirectory, "ca.pem"), "utf8")).fingerprintSha256;
  const [pinId, pin] = Object.entries(resources(json, "terraform_data")).find(([id]) => id.startsWith("etcd_ca_pin_"))!;
  const [, guard] = Object.entries(resources(json, "terraform_data")).find(([id]) => id.startsWith("etcd_ca_guard_"))!;

  test("THEN the pin holds the CA's fingerprint and never takes a new one (ignore_changes)", () => {
    expect(pin.input).toEqual({ ca_fingerprint_sha256: fingerprint });
    expect(pin.lifecycle.ignore_changes).toEqual(["input"]);
  });

  test("THEN the guard's precondition compares the pinned CA with this synth's, and says what to do", () => {
    const [precondition] = guard.lifecycle.precondition;
    expect(precondition.condition).toBe(`\${(terraform_data.${pinId}.output.ca_fingerprint_sha256 == "${fingerprint}")}`);
    expect(precondition.error_message).toContain(`The PKI directory ${pkiDirectory} holds a CA with SHA-256 fingerprint ${fingerprint}`);
    expect(precondition.error_message).toContain(
      `deployed with the CA whose fingerprint is \${terraform_data.${pinId}.output.ca_fingerprint_sha256}`
    );
    expect(precondition.error_message).toMatch(/Restore the PKI directory the cluster was deployed with/);
  });
});
