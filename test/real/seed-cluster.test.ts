// Issue 2: the seed example, deployed by the real Terraform with `etcd-cluster lab up`, is the recipe's 3-member
// cluster over mutual TLS, and the operator's `status` shows it in the recipe's shape.
import { Lab, labDown } from "../../lib/lab";
import { expectMemberHolds, LabProject, labCli, memberList, putKeys, readKeys, record, requireLabHost, SEED } from "./real-lab";

const LAB = "realseed";
const project = new LabProject(LAB);
let lab: Lab;
let upOutput: string[];

beforeAll(async () => {
  requireLabHost();
  await labDown(LAB, { log: () => undefined });
  const stackDir = project.synth(SEED);
  // WHEN the operator runs `etcd-cluster lab up <stack>` (the PKI found from the stack's outputs)
  const t = Date.now();
  const up = await labCli(["up", stackDir, "--name", LAB]);
  record(LAB, "etcd-cluster lab up (seed) including its status view", Date.now() - t);
  upOutput = up.lines;
  process.stderr.write(`[real ${LAB}] lab up printed:\n${up.lines.join("\n")}\n`);
  expect(up.code).toBe(0);
  lab = Lab.attach(LAB);
});

afterAll(() => project.remove());

test("three healthy members with the recipe's peer and client URLs", async () => {
  // GIVEN the seed lab is up
  // WHEN the operator lists the members from the deployer namespace
  const members = await memberList(lab);

  // THEN they are etcd_node1..3, voting, each at https://<its IP>:2380 and :2379
  expect(members.map((m) => [m.name, m.peerURLs, m.clientURLs, m.isLearner ?? false]).sort()).toEqual(
    SEED.map((m) => [m.name, [`https://${m.privateIp}:2380`], [`https://${m.privateIp}:2379`], false])
  );
  expect(lab.memberNames.every((m) => lab.isRunning(m))).toBe(true);
});

test("endpoint health --cluster is healthy over mutual TLS with the admin certificate, and refused without it", async () => {
  // WHEN etcdctl asks every member with the admin certificate
  const health = await lab.etcdctl(["endpoint", "health", "--cluster"]);

  // THEN all three are healthy (etcdctl 3.4 reports on stderr)
  expect(health.code).toBe(0);
  for (const m of SEED) expect(health.stdout + health.stderr).toContain(`https://${m.privateIp}:2379 is healthy`);

  // AND a client without a certificate is refused: the members require client certificates
  const anonymous = await lab.exec(
    "deployer",
    [
      "etcdctl",
      `--endpoints=${lab.clientUrl("etcd_node1")}`,
      `--cacert=${lab.pkiDirectory}/ca.pem`,
      "--dial-timeout=2s",
      "--command-timeout=2s",
      "put",
      "anonymous",
      "x",
    ],
    { env: { PATH: process.env.PATH!, ETCDCTL_API: "3" } }
  );
  expect(anonymous.code).not.toBe(0);
});

test("`lab status` runs the library's status view inside the lab, in the recipe's shape", async () => {
  // WHEN the operator runs `etcd-cluster lab status`
  const { code, lines } = await labCli(["status", "--name", LAB]);

  // THEN each member is listed as `<hex id>: name=... peerURLs=... clientURLs=... isLeader=...`, one leading
  expect(code).toBe(0);
  for (const m of SEED) {
    const ip = m.privateIp.replace(/\./g, "\\.");
    expect(lines).toContainEqual(
      expect.stringMatching(
        new RegExp(`^[0-9a-f]+: name=${m.name} peerURLs=https://${ip}:2380 clientURLs=https://${ip}:2379 isLeader=(true|false)$`)
      )
    );
  }
  expect(lines.filter((l) => l.endsWith("isLeader=true"))).toHaveLength(1);
  expect(lines).toContain("cluster is healthy: 3 voting member(s)");
  // AND `lab up` ended with the same view
  expect(upOutput).toContain("cluster is healthy: 3 voting member(s)");
});

test("a key written through one member is read through each of the others", async () => {
  // GIVEN keys written through etcd_node1
  const keys = await putKeys(lab, "seed", 20, [lab.clientUrl("etcd_node1")]);

  // THEN each member returns all of them
  for (const m of ["etcd_node2", "etcd_node3"]) await expectMemberHolds(lab, m, "seed", keys);
  expect(await readKeys(lab, "seed")).toEqual(keys);
});
