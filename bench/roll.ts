// With root, etcd, systemd-nspawn and Terraform: `etcd-cluster lab roll` of the seed cluster for a
// tuning change, the real Terraform replacing one member's VM at a time, while a client writes a key
// every 50 ms; how long each member and the whole roll take, and what the client saw.
import { startWriteLoad, type Lab } from "../lib/lab";
import { main } from "../lib/cli/main";
import { LabProject } from "../test/support/lab-project";
import { SEED } from "../test/support/synth";
import { labUnavailable } from "./lab";
import { median, type Figure } from "./run";

const LAB = "etcdbenchroll";

export async function benchRoll(runs: number): Promise<Figure[]> {
  const unavailable = labUnavailable("lab roll");
  if (unavailable) return unavailable;
  const perMember: number[] = [];
  const total: number[] = [];
  const failures: number[] = [];
  const lost: number[] = [];
  const outage: number[] = [];
  // A roll is three VMs replaced in turn: fewer runs than the quick figures.
  for (let i = 0; i < Math.min(runs, 3); i++) {
    const project = new LabProject(LAB);
    try {
      project.synth(SEED);
      const lab = await project.deploy();
      project.synth(SEED, { tuning: { snapshotCount: 20_000 + i } });
      const load = startWriteLoad((k, v) => lab.etcdctl(["put", k, v, "--dial-timeout=1s", "--command-timeout=2s"]), { prefix: "load" });
      const lines: string[] = [];
      const t = Date.now();
      const code = await main(["lab", "roll", project.stackDir, "--name", LAB], (l) => lines.push(l));
      const report = await load.stop();
      if (code !== 0) throw new Error(`lab roll exited ${code}:\n${lines.slice(-20).join("\n")}`);
      total.push((Date.now() - t) / 1000);
      for (const m of lines.join("\n").matchAll(/\] \S+: replaced and caught up in ([\d.]+) s/g)) perMember.push(Number(m[1]));
      failures.push(report.failures.length + report.skipped);
      const readable = await readKeys(lab, "load");
      lost.push([...report.acknowledged].filter(([k, v]) => readable[k] !== v).length);
      outage.push(report.longestOutageMs / 1000);
    } finally {
      await project.remove();
    }
  }
  const worst = (values: number[]) => Math.max(...values);
  return [
    { name: "lab roll: one member's VM replaced, to caught up", value: median(perMember), unit: "s" },
    { name: "lab roll: 3 members, total", value: median(total), unit: "s", goal: "< 90 s", met: median(total) < 90 },
    {
      name: "lab roll: writes failed, worst run (one every 50 ms)",
      value: worst(failures),
      unit: "",
      goal: "0",
      met: worst(failures) === 0,
    },
    { name: "lab roll: acknowledged writes lost, worst run", value: worst(lost), unit: "", goal: "0", met: worst(lost) === 0 },
    {
      name: "lab roll: longest stretch without an ack, worst run",
      value: worst(outage),
      unit: "s",
      goal: "< 3 s (election timeout x 3)",
      met: worst(outage) < 3,
    },
  ];
}

async function readKeys(lab: Lab, prefix: string): Promise<Record<string, string>> {
  const r = await lab.etcdctl(["get", `${prefix}/`, "--prefix", "-w", "json"]);
  if (r.code !== 0) throw new Error(`etcdctl get failed: ${r.stderr}`);
  const kvs = (JSON.parse(r.stdout) as { kvs?: { key: string; value: string }[] }).kvs ?? [];
  const text = (b64: string) => Buffer.from(b64, "base64").toString("utf8");
  return Object.fromEntries(kvs.map((kv) => [text(kv.key), text(kv.value)]));
}
