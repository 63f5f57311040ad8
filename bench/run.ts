// npm run bench -- [--json FILE] [--runs N]
// Prints each figure beside its goal; writes the same figures as JSON when asked.
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { benchPki } from "./pki";
import { benchUserData } from "./user-data";
import { benchLab } from "./lab";
import { benchBackup } from "./backup";
import { benchRoll } from "./roll";

export interface Figure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly goal?: string;
  readonly met?: boolean;
  readonly note?: string;
}

const ROOT = path.resolve(__dirname, "..");
const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const runs = Number(flag("runs") ?? 5);

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Synth in a fresh node process, as `cdktf synth` runs the app (without the CLI around it). */
function benchSynth(): Figure[] {
  execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], { cwd: ROOT, stdio: "inherit" });
  const app = path.join(ROOT, "dist", "bench", "synth-app.js");
  const figures: Figure[] = [];
  for (const members of [3, 5, 7]) {
    const timed = (pki: string) => {
      const start = process.hrtime.bigint();
      const result = spawnSync(process.execPath, [app, String(members), pki, tempDir("bench-out-")], { encoding: "utf8" });
      if (result.status !== 0) throw new Error(`synth failed: ${result.stderr}`);
      return Number(process.hrtime.bigint() - start) / 1e9;
    };
    const cold = median(Array.from({ length: runs }, () => timed(path.join(tempDir("bench-pki-"), "pki"))));
    const warmPki = path.join(tempDir("bench-pki-"), "pki");
    timed(warmPki);
    const warm = median(Array.from({ length: runs }, () => timed(warmPki)));
    const goals = members === 3;
    figures.push(
      { name: `synth ${members} members, cold (empty PKI)`, value: cold, unit: "s", ...(goals ? { goal: "< 2 s", met: cold < 2 } : {}) },
      { name: `synth ${members} members, warm (PKI filled)`, value: warm, unit: "s", ...(goals ? { goal: "< 1 s", met: warm < 1 } : {}) }
    );
  }
  return figures;
}

async function main(): Promise<void> {
  const figures: Figure[] = [
    ...benchSynth(),
    ...benchPki(runs),
    ...benchUserData(),
    ...(await benchBackup(runs)),
    ...(await benchLab(runs)),
    ...(await benchRoll(runs)),
  ];
  const width = Math.max(...figures.map((f) => f.name.length));
  console.log(
    `\nmachine: ${os.cpus().length} x ${os.cpus()[0]?.model.trim()}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${
      process.version
    }, ${os.platform()} ${os.release()}`
  );
  console.log(`runs per figure: ${runs} (median)\n`);
  for (const f of figures) {
    const value = f.unit === "s" ? f.value.toFixed(3) : f.unit === "x" ? f.value.toFixed(2) : String(f.value);
    const goal = f.goal ? `goal ${f.goal}: ${f.met ? "met" : "MISSED"}` : "";
    console.log(`${f.name.padEnd(width)}  ${value.padStart(9)} ${f.unit.padEnd(5)} ${goal}${f.note ? `  (${f.note})` : ""}`);
  }
  const json = flag("json");
  if (json) {
    fs.writeFileSync(
      json,
      JSON.stringify({ machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version }, runs, figures }, null, 2) +
        "\n"
    );
    console.log(`\nwrote ${json}`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
