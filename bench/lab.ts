// With root, etcd, systemd-nspawn and Terraform: the real `terraform apply` of the seed example
// from its first instance to all members healthy (each a machine booting, cloud-init, the boot
// script's download and key fetch, etcd under systemd), a two-phase add (register, launch,
// promote) as one deploy, and the whole-stack `terraform destroy`.
import { hostTools } from "../lib/lab";
import { terraformTool } from "../lib/lab/terraform";
import { LabProject } from "../test/support/lab-project";
import { SEED, NODE4 } from "../test/support/synth";
import { median, type Figure } from "./run";

const LAB = "etcdbench";

/** The figure that says why `name` was skipped, on a host that cannot run the lab; undefined where it can. */
export function labUnavailable(name: string): Figure[] | undefined {
  try {
    hostTools();
    terraformTool();
    return undefined;
  } catch (e) {
    return [{ name, value: NaN, unit: "s", note: `skipped: ${(e as Error).message}` }];
  }
}

export async function benchLab(runs: number): Promise<Figure[]> {
  const unavailable = labUnavailable("lab");
  if (unavailable) return unavailable;
  const healthy: number[] = [];
  const addFresh: number[] = [];
  const addSettled: number[] = [];
  const destroy: number[] = [];
  for (let i = 0; i < runs; i++) {
    for (const settleMs of [0, 6000]) {
      const project = new LabProject(LAB);
      try {
        project.synth(SEED);
        await project.deploy();
        if (settleMs === 0) healthy.push(project.elapsed(/aws_instance\.\S+: Creating\.\.\./, /running members healthy/) / 1000);
        // etcd refuses membership changes for ~5 s after a member connects: a cluster that has
        // just formed pays that wait, one that has run a while (any real deploy) does not.
        await new Promise((r) => setTimeout(r, settleMs));
        project.synth([...SEED, NODE4]);
        let t = Date.now();
        await project.deploy();
        (settleMs === 0 ? addFresh : addSettled).push((Date.now() - t) / 1000);
        t = Date.now();
        await project.destroy();
        destroy.push((Date.now() - t) / 1000);
      } finally {
        await project.remove();
      }
    }
  }
  const figure = (name: string, values: number[], goal?: { text: string; limit: number }): Figure => {
    const value = median(values);
    return { name, value, unit: "s", ...(goal ? { goal: goal.text, met: value < goal.limit } : {}) };
  };
  return [
    // Machines: a boot, cloud-init's stages and the boot script's 5 s health poll are in each figure.
    figure("lab: first instance created → all 3 healthy", healthy, { text: "< 30 s", limit: 30 }),
    figure("lab: deploy adding node4, cluster up 6 s", addSettled, { text: "< 20 s", limit: 20 }),
    figure("lab: deploy adding node4, right after the first", addFresh, { text: "< 20 s", limit: 20 }),
    figure("lab: terraform destroy of 4 members", destroy, { text: "< 60 s", limit: 60 }),
  ];
}
