// With root and etcd: seconds from starting the members to all healthy, and a two-phase add
// (register, launch, promote) from its start to the promoted voting member.
import * as fs from "node:fs";
import * as path from "node:path";
import { hostTools, labDown, labUp } from "../lib/lab";
import { synthExampleToDisk, SEED, NODE4 } from "../test/support/synth";
import { median, tempDir, type Figure } from "./run";

const LAB = "etcdbench";
const FIXTURE_PKI = path.join(__dirname, "..", "test", "fixtures", "insecure-test-pki");

export async function benchLab(runs: number): Promise<Figure[]> {
  try {
    hostTools();
  } catch (e) {
    return [{ name: "lab", value: NaN, unit: "s", note: `skipped: ${(e as Error).message}` }];
  }
  const pki = path.join(tempDir("bench-lab-"), "pki");
  fs.cpSync(FIXTURE_PKI, pki, { recursive: true });
  const seed = synthExampleToDisk(SEED, pki, tempDir("bench-lab-out-"));
  const grown = synthExampleToDisk([...SEED, NODE4], pki, tempDir("bench-lab-out-"));

  const healthy: number[] = [];
  const addFresh: number[] = [];
  const addSettled: number[] = [];
  for (let i = 0; i < runs; i++) {
    for (const settleMs of [0, 6000]) {
      let membersStarted = 0;
      let allHealthy = 0;
      const log = (line: string) => {
        if (!membersStarted && /aws_instance\.\S+: Creating\.\.\./.test(line)) membersStarted = Date.now();
        if (/all members healthy/.test(line)) allHealthy = Date.now();
      };
      const lab = await labUp({ stackDir: seed, pkiDirectory: pki, labName: LAB, log });
      try {
        if (settleMs === 0) healthy.push((allHealthy - membersStarted) / 1000);
        // etcd refuses membership changes for ~5 s after a member connects: a cluster that has
        // just formed pays that wait, one that has run a while (any real deploy) does not.
        await new Promise((r) => setTimeout(r, settleMs));
        const result = await lab.apply(grown, { log: () => undefined });
        (settleMs === 0 ? addFresh : addSettled).push(result.durationMs / 1000);
      } finally {
        await labDown(LAB, { log: () => undefined });
      }
    }
  }
  const figure = (name: string, values: number[], goal?: { text: string; limit: number }): Figure => {
    const value = median(values);
    return { name, value, unit: "s", ...(goal ? { goal: goal.text, met: value < goal.limit } : {}) };
  };
  return [
    figure("lab: members started → all 3 healthy", healthy, { text: "< 3 s", limit: 3 }),
    figure("lab: two-phase add of node4, cluster up 6 s", addSettled, { text: "< 6 s", limit: 6 }),
    figure("lab: two-phase add of node4, right after lab up", addFresh, { text: "< 6 s", limit: 6 }),
  ];
}
