// A user's cdktf project, as the real-Terraform lab tests need one: the seed example synthesized
// again and again into one output directory (as `cdktf synth` does), on a copy of the fixture PKI,
// with Terraform's state in the project, and deployed to a lab by the real Terraform.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EtcdClusterProps, EtcdMemberProps } from "../../lib";
import { App } from "../../lib/cdktf";
import { Lab, labDeploy, labDestroy, labDown, labEtcdInstall } from "../../lib/lab";
import { resolveReferences, type ShownState } from "../../lib/roll/terraform-state";
import { tempPki } from "./synth";

export class LabProject {
  readonly dir = mkdtempSync(join(tmpdir(), "etcd-project-"));
  readonly pki = tempPki("fixture", "caller"); // remove() deletes it
  readonly outdir = join(this.dir, "cdktf.out");
  readonly stackDir = join(this.outdir, "stacks", "seed-cluster");
  readonly stateFile = join(this.dir, "terraform.seed-cluster.tfstate");
  /** Every line the lab and Terraform printed, in order. */
  readonly log: string[] = [];
  /** When each line of `log` arrived (Date.now()). */
  readonly loggedAt: number[] = [];

  /**
   * `clusterProps` go into every synth (a synth's own props win); `deployer` is where the lab puts
   * Terraform: inside the VPC (the default) or outside it, with no route to the members.
   */
  constructor(
    readonly labName: string,
    private readonly options: { clusterProps?: Partial<EtcdClusterProps>; deployer?: "inside" | "outside" } = {}
  ) {}

  /**
   * `cdktf synth` of the seed example with these members (and any other props): returns the stack
   * directory. etcd is installed from the lab's mirror unless `props.install` says otherwise.
   */
  synth(members: EtcdMemberProps[], props: Partial<EtcdClusterProps> = {}): string {
    props = { install: labEtcdInstall(), ...this.options.clusterProps, ...props };
    // Required lazily: the example imports this library, which this helper serves.
    const { SeedClusterStack } = require("../../examples/seed-cluster/stack") as typeof import("../../examples/seed-cluster/stack");
    const app = new App({ outdir: this.outdir, stackTraces: false });
    new SeedClusterStack(app, "seed-cluster", { members, pkiDirectory: this.pki, stateFile: this.stateFile, clusterProps: props });
    app.synth();
    return this.stackDir;
  }

  /** `cdktf deploy` of the last synth into the lab. */
  deploy(options: { signal?: AbortSignal; healthyTimeoutMs?: number; machine?: "container" | "vm" } = {}): Promise<Lab> {
    const deployer = this.options.deployer;
    return labDeploy({ stackDir: this.stackDir, pkiDirectory: this.pki, labName: this.labName, log: this.record, deployer, ...options });
  }

  /** `cdktf destroy`. */
  destroy(): Promise<void> {
    return labDestroy({ stackDir: this.stackDir, labName: this.labName, log: this.record });
  }

  /** `terraform plan -detailed-exitcode`: 0 when Terraform sees nothing to change. */
  plan(): Promise<number> {
    return Lab.attach(this.labName).terraform(this.stackDir, ["plan", "-detailed-exitcode", "-input=false", "-no-color"], {
      log: this.record,
    });
  }

  /** Milliseconds from the first line matching `from` to the first after it matching `to` (NaN if either is missing). */
  elapsed(from: RegExp, to: RegExp, mark = 0): number {
    const a = this.log.findIndex((l, i) => i >= mark && from.test(l));
    const b = a < 0 ? -1 : this.log.findIndex((l, i) => i > a && to.test(l));
    return b < 0 ? NaN : this.loggedAt[b] - this.loggedAt[a];
  }

  /** Lines logged since `mark` (a previous log length). */
  since(mark: number): string[] {
    return this.log.slice(mark);
  }

  /** Takes the lab down whatever its state, and removes the project. */
  async remove(): Promise<void> {
    await labDown(this.labName, { log: () => undefined });
    rmSync(this.dir, { recursive: true, force: true });
    rmSync(this.pki, { recursive: true, force: true });
  }

  private readonly record = (line: string): void => {
    this.log.push(line);
    this.loggedAt.push(Date.now());
    if (process.env.LAB_LOG) process.stderr.write(`${line}\n`);
  };
}

/** A Terraform state file (format 4) as `terraform show -json` shows it: what lib/roll reads. */
export function shownState(stateFile: string): ShownState {
  const state = JSON.parse(readFileSync(stateFile, "utf8")) as {
    resources: {
      mode: "managed" | "data";
      type: string;
      name: string;
      instances: { index_key?: number | string; attributes: Record<string, unknown> }[];
    }[];
  };
  const resources = state.resources.flatMap((r) =>
    r.instances.map((i) => ({
      address: `${r.mode === "data" ? "data." : ""}${r.type}.${r.name}${
        i.index_key === undefined ? "" : `[${JSON.stringify(i.index_key)}]`
      }`,
      mode: r.mode,
      type: r.type,
      name: r.name,
      index: i.index_key,
      values: i.attributes,
    }))
  );
  return { values: { root_module: { resources } } };
}

/** A member's user data as Terraform launched its VM: the synthesized text, its references resolved from the state. */
export function launchedUserData(project: LabProject, member: string): string {
  const config = JSON.parse(readFileSync(join(project.stackDir, "cdk.tf.json"), "utf8"));
  const instance = Object.values(config.resource.aws_instance as Record<string, any>).find((i) => i.tags["etcd:member"] === member);
  const resolved = resolveReferences(instance.user_data, shownState(project.stateFile));
  if (resolved === undefined) throw new Error(`${member}'s user data refers to something not in the state`);
  return resolved;
}
