// PKI issuance for a CA, 4 members and the admin certificate: this library beside cfssl.
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { PkiDirectory } from "../lib/pki/pki-directory";
import { median, tempDir, type Figure } from "./run";

const MEMBERS = [1, 2, 3, 4].map((i) => ({
  name: `etcd_node${i}`,
  ipAddresses: [`172.16.0.${100 + i}`, "127.0.0.1"],
  dnsNames: ["localhost"],
}));

function timeIt(work: () => void): number {
  const start = process.hrtime.bigint();
  work();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function ours(): void {
  const directory = path.join(tempDir("bench-pki-"), "pki");
  new PkiDirectory({ directory, keySize: 2048, caValidityDays: 3650, certificateValidityDays: 825 }).plan(MEMBERS).commit();
}

/** The recipe's own tool: gencert -initca, then one gencert per certificate, files written by cfssljson. */
function cfssl(): void {
  const dir = tempDir("bench-cfssl-");
  const csr = (cn: string, hosts: string[]) => JSON.stringify({ CN: cn, hosts, key: { algo: "rsa", size: 2048 }, names: [{ O: "etcd" }] });
  fs.writeFileSync(path.join(dir, "ca-csr.json"), csr("etcd-ca", []));
  fs.writeFileSync(
    path.join(dir, "config.json"),
    JSON.stringify({
      signing: {
        profiles: {
          peer: { usages: ["signing", "key encipherment", "server auth", "client auth"], expiry: "19800h" },
          client: { usages: ["signing", "key encipherment", "client auth"], expiry: "19800h" },
        },
      },
    })
  );
  const run = (args: string[], bare: string) => {
    const json = execFileSync("cfssl", args, { cwd: dir, stdio: ["ignore", "pipe", "ignore"] });
    execFileSync("cfssljson", ["-bare", bare], { cwd: dir, input: json });
  };
  run(["gencert", "-initca", "ca-csr.json"], "ca");
  const sign = ["gencert", "-ca=ca.pem", "-ca-key=ca-key.pem", "-config=config.json"];
  for (const m of MEMBERS) {
    fs.writeFileSync(path.join(dir, `${m.name}-csr.json`), csr(m.name, [...m.ipAddresses, ...m.dnsNames]));
    run([...sign, "-profile=peer", `${m.name}-csr.json`], m.name);
  }
  fs.writeFileSync(path.join(dir, "admin-csr.json"), csr("admin", []));
  run([...sign, "-profile=client", "admin-csr.json"], "admin");
}

export function benchPki(runs: number): Figure[] {
  const oursTime = median(Array.from({ length: runs }, () => timeIt(ours)));
  const figures: Figure[] = [{ name: "PKI: CA + 4 members + admin (this library)", value: oursTime, unit: "s" }];
  const haveCfssl = ["cfssl", "cfssljson"].every((tool) => spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0);
  if (!haveCfssl) {
    figures.push({
      name: "PKI: same work with cfssl",
      value: NaN,
      unit: "s",
      note: "cfssl/cfssljson not installed: apt-get install golang-cfssl",
    });
    return figures;
  }
  const cfsslTime = median(Array.from({ length: runs }, () => timeIt(cfssl)));
  const ratio = oursTime / cfsslTime;
  figures.push(
    { name: "PKI: same work with cfssl gencert", value: cfsslTime, unit: "s" },
    { name: "PKI: this library / cfssl", value: ratio, unit: "x", goal: "<= 1 (no slower than cfssl)", met: ratio <= 1 }
  );
  return figures;
}
