import type { EtcdPkiOptions } from "../props";
import type { Problems } from "./config-error";
import { DEFAULTS } from "./defaults";
import type { ResolvedPki } from "./resolved-cluster";

const KEY_SIZES = [2048, 3072, 4096] as const;
const TERRAFORM_UNSAFE = /["\\\x00-\x1f]|\$\{|%\{/;

/** The PKI options with their defaults; `defaultDirectory` is `.etcd-pki/<construct path>`. */
export function resolvePki(options: EtcdPkiOptions | undefined, defaultDirectory: string, problems: Problems): ResolvedPki {
  const pki = options ?? {};
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
    directory: pki.directory ?? defaultDirectory,
    keySize,
    caValidityDays: days("caValidityDays"),
    certificateValidityDays: days("certificateValidityDays"),
  };
}

export function isIntegerIn(value: number, min: number, max: number): boolean {
  return Number.isInteger(value) && value >= min && value <= max;
}
