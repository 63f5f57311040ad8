import { execFileSync } from "node:child_process";
import { readFileSync, readlinkSync } from "node:fs";
import type { Lab } from "../../lib/lab";
import { SEED } from "../support/synth";
import { useFixtureLab } from "./make-stack";

const LAB = "labup";
const fixture = useFixtureLab(LAB);
let input: { stackDir: string; pkiDir: string };
let lab: Lab;

beforeAll(() => {
  ({ input, lab } = fixture);
});

test("three members come up healthy with their static IPs as peer URLs", async () => {
  // GIVEN the lab of a synthesized 3-member stack is up
  // WHEN the operator lists the members from the deployer namespace
  const list = await lab.etcdctl(["member", "list", "-w", "json"]);

  // THEN the list holds exactly the three members, each at https://<its private IP>:2380
  expect(list.code).toBe(0);
  const members = (JSON.parse(list.stdout) as { members: { name: string; peerURLs: string[] }[] }).members;
  expect(members.map((m) => [m.name, m.peerURLs]).sort()).toEqual(SEED.map((m) => [m.name, [`https://${m.privateIp}:2380`]]));
  // AND every member answers endpoint health (etcdctl 3.4 reports it on stderr)
  const health = await lab.etcdctl(["endpoint", "health", "--cluster"]);
  expect(health.code).toBe(0);
  expect((health.stdout + health.stderr).match(/is healthy/g)).toHaveLength(3);
});

test("a key written through one member is read back through another", async () => {
  // GIVEN a healthy lab
  // WHEN a key is written through etcd_node1's endpoint
  const put = await lab.etcdctl(["put", "lab/greeting", "hello"], { endpoints: [lab.clientUrl("etcd_node1")] });
  expect(put.code).toBe(0);

  // THEN etcd_node2's endpoint returns it
  const get = await lab.etcdctl(["get", "lab/greeting", "--print-value-only"], { endpoints: [lab.clientUrl("etcd_node2")] });
  expect(get).toMatchObject({ code: 0, stdout: "hello\n" });
});

test("each member's etcd is the unit's, run by the machine's systemd: its User=, its EnvironmentFile, its own files", async () => {
  // GIVEN a running member
  const member = lab.member("etcd_node1");
  const pid = lab.pid(member.name)!;

  // THEN its process is the release the boot script installed, in the machine's own mount namespace
  expect(readlinkSync(`/proc/${pid}/ns/mnt`)).not.toBe(readlinkSync("/proc/self/ns/mnt"));
  expect(readlinkSync(`/proc/${pid}/exe`)).toBe("/usr/local/bin/etcd");
  // AND it runs as the machine's etcd user (cloud-init's `users`), under systemd's etcd.service
  const uid = (await lab.machineExec(member.name, ["id", "-u", "etcd"])).stdout.trim();
  expect(readFileSync(`/proc/${pid}/status`, "utf8")).toMatch(new RegExp(`^Uid:\\t${uid}\\t${uid}\\t${uid}\\t${uid}$`, "m"));
  expect(readFileSync(`/proc/${pid}/cgroup`, "utf8")).toMatch(/\/system\.slice\/etcd\.service$/m);
  // AND its environment holds the EnvironmentFile's settings exactly
  const environ = Object.fromEntries(
    readFileSync(`/proc/${pid}/environ`, "utf8")
      .split("\0")
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)])
  );
  expect(environ).toMatchObject(member.conf);
  // AND it sees its own key at the unit's path, 0600 etcd:etcd, and its certificate from the PKI
  const key = execFileSync("nsenter", [`--target=${pid}`, "--mount", "stat", "-c", "%a %U:%G", "/etc/etcd/ssl/etcd-key.pem"], {
    encoding: "utf8",
  });
  expect(key.trim()).toBe("600 etcd:etcd");
  const cert = execFileSync("nsenter", [`--target=${pid}`, "--mount", "cat", "/etc/etcd/ssl/etcd.pem"], { encoding: "utf8" });
  expect(cert).toBe(readFileSync(`${input.pkiDir}/etcd_node1.pem`, "utf8"));
});

test("exec runs commands in a member's or the deployer's namespace, which hold only lab addresses", async () => {
  // WHEN the deployer namespace's addresses and routes are listed
  const addr = await lab.exec("deployer", ["ip", "-4", "-o", "addr", "show", "dev", "eth0"]);
  const routes = await lab.exec("deployer", ["ip", "-4", "route"]);

  // THEN it holds the highest address of the VPC CIDR, and its only route is the lab prefix (no way out)
  expect(addr.stdout).toContain("inet 172.16.255.254/16");
  expect(routes.stdout.trim()).toBe("172.16.0.0/16 dev eth0 proto kernel scope link src 172.16.255.254");
  // AND a member namespace holds the member's private IP
  const member = await lab.exec("etcd_node2", ["ip", "-4", "-o", "addr", "show", "dev", "eth0"]);
  expect(member.stdout).toContain("inet 172.16.0.102/16");
  // AND its routes are the prefix and instance metadata via the deployer, which answers it itself: no default route
  const memberRoutes = await lab.exec("etcd_node2", ["ip", "-4", "route"]);
  expect(memberRoutes.stdout.trim().split("\n").map((l) => l.trim())).toEqual([
    "169.254.169.254 via 172.16.255.254 dev eth0",
    "172.16.0.0/16 dev eth0 proto kernel scope link src 172.16.0.102",
  ]);
});
