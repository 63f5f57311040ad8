import { DEFAULT_TEST_PKI_SEED } from "../pki/test-pki";
import type { EtcdPkiOptions } from "../props";
import type { Problems } from "./config-error";
import { DEFAULTS } from "./defaults";
import type { ResolveContext } from "./resolve-cluster";
import type { ResolvedPki } from "./resolved-cluster";

/** App context that lets a real (non-Testing) synth use the test PKI. Its plan still fails. */
export const ALLOW_TEST_PKI_CONTEXT = "etcd-cluster:allowTestPki";

const KEY_SIZES = [2048, 3072, 4096] as const;
const TERRAFORM_UNSAFE = /["\\\x00-\x1f]|\$\{|%\{/;

/** The PKI options with their defaults: the directory's PKI, or under Testing the seeded test PKI. */
export function resolvePki(
  options: EtcdPkiOptions | undefined,
  context: Pick<ResolveContext, "defaultPkiDirectory" | "testing" | "allowTestPki">,
  problems: Problems,
  warnings: string[]
): ResolvedPki {
  const pki = options ?? {};
  const source = resolveSource(pki, context, problems, warnings);
  const keySize = pki.keySize ?? DEFAULTS.keySize;
  if (!KEY_SIZES.includes(keySize)) {
    problems.add(
      "pki.keySize",
      `pki.keySize is ${pki.keySize}: use 2048, 3072 or 4096 (etcd accepts RSA 2048 and up; bigger keys make bigger user data)`
    );
  }
  const days = (field: "caValidityDays" | "certificateValidityDays") => {
    const value = pki[field] ?? DEFAULTS[field];
    if (!isIntegerIn(value, 1, 36500))
      problems.add(`pki.${field}`, `pki.${field} is ${value}: give a whole number of days from 1 to 36500`);
    return value;
  };
  if (pki.directory !== undefined && (typeof pki.directory !== "string" || pki.directory.trim() === "")) {
    problems.add(
      "pki.directory",
      `pki.directory is ${JSON.stringify(pki.directory)}: give a directory path, or leave it out for ${DEFAULTS.pkiRoot}/<construct path>`
    );
  } else if (pki.directory !== undefined && TERRAFORM_UNSAFE.test(pki.directory)) {
    // Its files are named in Terraform expressions (file("...")) and provisioner command lines.
    problems.add(
      "pki.directory",
      `pki.directory is ${JSON.stringify(
        pki.directory
      )}: it must not contain quotes, backslashes, control characters, "\${" or "%{", which Terraform would read as part of an expression; pick a plain path`
    );
  }
  return {
    source,
    testSeed: pki.testSeed ?? DEFAULT_TEST_PKI_SEED,
    directory: pki.directory ?? context.defaultPkiDirectory,
    keySize,
    caValidityDays: days("caValidityDays"),
    certificateValidityDays: days("certificateValidityDays"),
  };
}

function resolveSource(
  pki: EtcdPkiOptions,
  context: Pick<ResolveContext, "testing" | "allowTestPki">,
  problems: Problems,
  warnings: string[]
): "directory" | "test" {
  const { source, testSeed } = pki;
  if (source !== undefined && source !== "directory" && source !== "test") {
    problems.add(
      "pki.source",
      `pki.source is ${JSON.stringify(source)}: use "directory" (a real PKI) or "test" (the seeded test PKI), or leave it out`
    );
    return "directory";
  }
  if (testSeed !== undefined && (typeof testSeed !== "string" || testSeed.length === 0)) {
    problems.add(
      "pki.testSeed",
      `pki.testSeed is ${JSON.stringify(testSeed)}: give a non-empty string, or leave it out for the default seed`
    );
  }
  if (source === "directory" && testSeed !== undefined) {
    problems.add("pki.testSeed", `pki.testSeed is set but pki.source is "directory", which never uses it: remove one of them`);
  }
  const chosen = source ?? (testSeed !== undefined || context.testing ? "test" : "directory");
  if (chosen === "test" && !context.testing) {
    if (!context.allowTestPki) {
      problems.add(
        source === "test" ? "pki.source" : "pki.testSeed",
        `pki.${source === "test" ? 'source is "test"' : "testSeed is set"}, but this app is not cdktf's Testing.app(): ` +
          `the test PKI's private keys follow from a public seed, so a cluster using it is not secure. ` +
          `Remove pki.source and pki.testSeed for a real PKI in pki.directory; ` +
          `use Testing.app() in tests; or, to synthesize it anyway (its terraform plan always fails), set the app context "${ALLOW_TEST_PKI_CONTEXT}": true`
      );
    } else {
      warnings.push(`synthesized with the INSECURE test PKI (${ALLOW_TEST_PKI_CONTEXT}); terraform plan of this stack fails by design`);
    }
  }
  return chosen;
}

export function isIntegerIn(value: number, min: number, max: number): boolean {
  return Number.isInteger(value) && value >= min && value <= max;
}
