import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Lab, labDown, labUp } from "../../lib/lab";
import { FIXTURE_PKI, makeStack, THREE_MEMBERS } from "./make-stack";

// How Lab.apply runs terraform_data steps: where, with what, in which order, and on failure.
const LAB = "labapply";
let lab: Lab;
const dirs: string[] = [];

/** A stack of the three lab members plus `extra` resources, in a fresh directory. */
function stackWith(extra: Record<string, Record<string, unknown>>): string {
  const dir = mkdtempSync(join(tmpdir(), "etcd-lab-apply-"));
  dirs.push(dir);
  makeStack(dir, FIXTURE_PKI, THREE_MEMBERS);
  const file = join(dir, "cdk.tf.json");
  const json = JSON.parse(readFileSync(file, "utf8"));
  Object.assign(json.resource, extra);
  writeFileSync(file, JSON.stringify(json));
  return dir;
}

const exec = (command: string, more: Record<string, unknown> = {}) => ({ "local-exec": { command, ...more } });

async function applyLogged(stackDir: string): Promise<string[]> {
  const log: string[] = [];
  await lab.apply(stackDir, { log: (l) => log.push(l) });
  return log;
}

beforeAll(async () => {
  lab = await labUp({ stackDir: stackWith({}), pkiDirectory: FIXTURE_PKI, labName: LAB, log: () => undefined });
});

afterAll(async () => {
  await labDown(LAB, { log: () => undefined });
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

test("a local-exec runs in the deployer namespace, from the stack directory, with PATH and its environment only", async () => {
  // GIVEN a new terraform_data whose command reports where and with what it runs
  const probe =
    "echo \"cwd=$(pwd)\"; echo \"ip=$(ip -4 -o addr show dev eth0 | awk '{print $4}')\"; echo \"vars=$(env | cut -d= -f1 | sort | tr '\\n' ' ')\"";
  const dir = stackWith({ terraform_data: { probe: { provisioner: [exec(probe, { environment: { GREETING: "hi" } })] } } });

  // WHEN it is applied
  const log = await applyLogged(dir);

  // THEN the command's output, streamed through the lab's log, shows the stack dir, the deployer's address, and no stray variables
  const out = (key: string) => log.find((l) => l.includes(`terraform_data.probe (local-exec): ${key}=`))?.split(`${key}=`)[1];
  expect(out("cwd")).toBe(dir);
  expect(out("ip")).toBe(`${lab.network.deployer.ip}/${lab.network.prefixLength}`);
  expect(
    out("vars")!
      .trim()
      .split(" ")
      .filter((v) => !["PWD", "OLDPWD", "SHLVL", "_"].includes(v))
  ).toEqual(["GREETING", "PATH"]);
  // AND the three members were left alone
  expect(log).toContainEqual(expect.stringMatching(/plan for .*: 1 to add, 0 to change, 0 to destroy \(\d+ unchanged\)/));
});

test("a failing step stops the apply with its output, its dependents do not run, and the next apply replaces it", async () => {
  // GIVEN a step that fails and one that depends on it (by reference, as Terraform infers)
  const marker = join(mkdtempSync(join(tmpdir(), "etcd-lab-marker-")), "ran");
  dirs.push(join(marker, ".."));
  const failing = stackWith({
    terraform_data: {
      probe: {},
      fails: { provisioner: [exec("echo boom; exit 3")] },
      after: { input: "${terraform_data.fails.id}", provisioner: [exec(`touch ${marker}`)] },
    },
  });

  // WHEN applied THEN it fails quoting the command's output, and the dependent never ran
  await expect(lab.apply(failing, { log: () => undefined })).rejects.toThrow(
    /terraform_data\.fails: local-exec provisioner error: .*exited with 3:\nboom/
  );
  expect(existsSync(marker)).toBe(false);
  expect(lab.appliedResources).toContain("terraform_data.fails"); // tainted, as Terraform records it

  // WHEN the step is fixed and applied again
  const fixed = stackWith({
    terraform_data: {
      probe: {},
      fails: { provisioner: [exec("echo fixed")] },
      after: { input: "${terraform_data.fails.id}", provisioner: [exec(`touch ${marker}`)] },
    },
  });
  const log = await applyLogged(fixed);

  // THEN the tainted step is replaced (without destroy provisioners) before its dependent runs
  expect(log).toContainEqual(expect.stringMatching(/terraform_data\.fails: Destroying\.\.\. \(tainted/));
  expect(log.findIndex((l) => /terraform_data\.fails: Creation complete/.test(l))).toBeLessThan(
    log.findIndex((l) => /terraform_data\.after: Creating/.test(l))
  );
  expect(existsSync(marker)).toBe(true);
});

test("destroy-time commands come from the block kept with count 0; a block deleted from the stack runs none, as in Terraform", async () => {
  // GIVEN two steps with destroy-time commands
  await lab.apply(
    stackWith({
      terraform_data: {
        kept: { provisioner: [exec("echo bye-kept", { when: "destroy" })] },
        deleted: { provisioner: [exec("echo bye-deleted", { when: "destroy" })] },
      },
    }),
    { log: () => undefined }
  );

  // WHEN one is set to count 0 and the other's block is deleted
  const log = await applyLogged(
    stackWith({ terraform_data: { kept: { count: 0, provisioner: [exec("echo bye-kept", { when: "destroy" })] } } })
  );

  // THEN only the kept block's command ran, and the lab says why the other's did not
  expect(log).toContain(`[lab ${LAB}] terraform_data.kept (local-exec): bye-kept`);
  expect(log.join("\n")).not.toContain("bye-deleted");
  expect(log).toContain(
    `[lab ${LAB}] terraform_data.deleted: its block is gone from the stack: Terraform would run none of its destroy-time provisioners`
  );
  expect(lab.appliedResources.filter((a) => a.startsWith("terraform_data."))).toEqual([]);
});

test("a new member the lab's network cannot hold is refused before anything changes", async () => {
  // GIVEN a stack adding a member at the address the lab gave its deployer (the prefix's last)
  const before = lab.appliedResources;
  const dir = stackWith({});
  makeStack(dir, FIXTURE_PKI, [...THREE_MEMBERS, { name: "etcd_node5", ip: lab.network.deployer.ip }]);

  // WHEN applied THEN it is refused, and the lab's state is unchanged
  await expect(lab.apply(dir, { log: () => undefined })).rejects.toThrow(
    `etcd_node5: ${lab.network.deployer.ip} is the lab deployer's address`
  );
  expect(lab.appliedResources).toEqual(before);
  expect(lab.memberNames).toEqual(THREE_MEMBERS.map((m) => m.name));
});
