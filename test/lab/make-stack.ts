import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { stringify } from "yaml";
import type { Lab } from "../../lib/lab";
import { LabProject } from "../support/lab-project";
import { SEED } from "../support/synth";

/**
 * Hand-made stacks in the shape the construct synthesizes, for what the real synth cannot make:
 * count-0 members without the construct's rules, gzipped user data, conf values out of contract.
 * Lab suites deploy the real synthesized seed example (useFixtureLab).
 */

export interface StackMember {
  readonly name: string;
  readonly ip: string;
  /** Kept as a resource with count 0, as the construct keeps a removed member. */
  readonly absent?: boolean;
  /** Ship the cloud-config as user_data_base64 (gzip, base64) instead of user_data. */
  readonly gzip?: boolean;
  /** etcd.conf values replacing the generated ones. */
  readonly conf?: Record<string, string>;
}

export const THREE_MEMBERS: StackMember[] = [1, 2, 3].map((i) => ({ name: `etcd_node${i}`, ip: `172.16.0.10${i}` }));

/** The committed fixture PKI: CA, admin and etcd_node1..5 certificates with SANs 172.16.0.10N, 127.0.0.1, localhost. */
export const FIXTURE_PKI = join(__dirname, "..", "fixtures", "insecure-test-pki");

function etcdConf(member: StackMember, members: StackMember[], token: string): string {
  const present = members.filter((m) => !m.absent);
  const conf: Record<string, string> = {
    ETCD_NAME: member.name,
    ETCD_DATA_DIR: `/var/lib/etcd/${member.name}.etcd`,
    ETCD_LISTEN_PEER_URLS: `https://${member.ip}:2380`,
    ETCD_LISTEN_CLIENT_URLS: `https://${member.ip}:2379,https://127.0.0.1:2379`,
    ETCD_INITIAL_ADVERTISE_PEER_URLS: `https://${member.ip}:2380`,
    ETCD_INITIAL_CLUSTER: present.map((m) => `${m.name}=https://${m.ip}:2380`).join(","),
    ETCD_INITIAL_CLUSTER_STATE: "new",
    ETCD_INITIAL_CLUSTER_TOKEN: token,
    ETCD_ADVERTISE_CLIENT_URLS: `https://${member.ip}:2379`,
    ETCD_CERT_FILE: "/etc/etcd/ssl/etcd.pem",
    ETCD_KEY_FILE: "/etc/etcd/ssl/etcd-key.pem",
    ETCD_CLIENT_CERT_AUTH: "true",
    ETCD_TRUSTED_CA_FILE: "/etc/etcd/ssl/ca.pem",
    ETCD_PEER_CERT_FILE: "/etc/etcd/ssl/etcd.pem",
    ETCD_PEER_KEY_FILE: "/etc/etcd/ssl/etcd-key.pem",
    ETCD_PEER_CLIENT_CERT_AUTH: "true",
    ETCD_PEER_TRUSTED_CA_FILE: "/etc/etcd/ssl/ca.pem",
    ...member.conf,
  };
  const lines = Object.entries(conf).map(([key, value]) => `${key}="${value}"`);
  return [`# etcd configuration for ${member.name}: a systemd EnvironmentFile`, ...lines, ""].join("\n");
}

const UNIT = `[Unit]
Description=etcd cluster member
After=network-online.target
Wants=network-online.target

[Service]
Type=notify
User=etcd
EnvironmentFile=/etc/etcd/etcd.conf
ExecStart=/usr/local/bin/etcd
Restart=on-failure
RestartSec=5s
LimitNOFILE=65536
TimeoutStartSec=0

[Install]
WantedBy=multi-user.target
`;

const BOOT = `#!/bin/sh
set -eu
install -d -o etcd -g etcd -m 0700 /var/lib/etcd
systemctl daemon-reload
systemctl enable --now etcd
`;

function cloudConfig(member: StackMember, members: StackMember[], pkiDir: string, token: string): string {
  const pem = (file: string) => readFileSync(join(pkiDir, file), "utf8");
  const file = (path: string, content: string, extra: Record<string, unknown> = {}) => ({
    path,
    content,
    permissions: "0644",
    owner: "root:root",
    ...extra,
  });
  return (
    "#cloud-config\n" +
    stringify({
      users: ["default", { name: "etcd", system: true, shell: "/sbin/nologin", homedir: "/var/lib/etcd" }],
      write_files: [
        file("/etc/etcd/ssl/ca.pem", pem("ca.pem")),
        file("/etc/etcd/ssl/etcd.pem", pem(`${member.name}.pem`)),
        // Owned by the etcd user, which cloud-init creates before its final stage.
        file("/etc/etcd/ssl/etcd-key.pem", pem(`${member.name}-key.pem`), { permissions: "0600", owner: "etcd:etcd", defer: true }),
        file("/etc/etcd/etcd.conf", etcdConf(member, members, token)),
        file("/etc/systemd/system/etcd.service", UNIT),
        file("/usr/local/sbin/etcd-bootstrap", BOOT, { permissions: "0755" }),
      ],
      runcmd: [["/usr/local/sbin/etcd-bootstrap"]],
    })
  );
}

/** Writes <stackDir>/cdk.tf.json with one aws_instance per member, embedding the PKI's certificates. */
export function makeStack(stackDir: string, pkiDir: string, members: StackMember[] = THREE_MEMBERS): void {
  const token = "etcd-lab-test";
  const instances: Record<string, unknown> = {};
  for (const m of members) {
    const userData = cloudConfig(m, members, pkiDir, token);
    instances[m.name] = {
      ...(m.absent ? { count: 0 } : {}),
      ami: "ami-0123456789abcdef0",
      instance_type: "t3.small",
      private_ip: m.ip,
      subnet_id: "${aws_subnet.etcd_subnet.id}",
      ...(m.gzip ? { user_data_base64: gzipSync(userData).toString("base64") } : { user_data: userData }),
      tags: { Name: m.name, "etcd:member": m.name },
    };
  }
  mkdirSync(stackDir, { recursive: true });
  writeFileSync(
    join(stackDir, "cdk.tf.json"),
    JSON.stringify(
      {
        resource: {
          aws_vpc: { etcd_vpc: { cidr_block: "172.16.0.0/16" } },
          aws_subnet: { etcd_subnet: { cidr_block: "172.16.0.0/24", vpc_id: "${aws_vpc.etcd_vpc.id}" } },
          aws_instance: instances,
        },
      },
      null,
      2
    )
  );
}

/** A temp dir holding a stack on the fixture PKI; `remove()` deletes it. */
export function makeLabInput(members: StackMember[] = THREE_MEMBERS): { pkiDir: string; stackDir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "etcd-lab-test-"));
  makeStack(dir, FIXTURE_PKI, members);
  return { pkiDir: FIXTURE_PKI, stackDir: dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A lab of the synthesized seed example for one suite, deployed by the real Terraform before its
 * tests (time to healthy printed) and taken down after them, also when they fail. Suites read
 * `.lab` and `.input` inside their tests.
 */
export function useFixtureLab(labName: string): { readonly lab: Lab; readonly input: { stackDir: string; pkiDir: string } } {
  const project = new LabProject(labName);
  let lab: Lab | undefined;
  beforeAll(async () => {
    project.synth(SEED);
    const t = Date.now();
    lab = await project.deploy();
    process.stderr.write(`[test] ${labName}: lab deploy to all healthy in ${((Date.now() - t) / 1000).toFixed(2)} s\n`);
  });
  afterAll(() => project.remove());
  return {
    get lab(): Lab {
      if (!lab) throw new Error(`lab ${labName} is not up: its beforeAll failed`);
      return lab;
    },
    input: { stackDir: project.stackDir, pkiDir: project.pki },
  };
}
