// etcd's rules for changing the version a running cluster runs (etcd.io, "Upgrading etcd clusters
// and applications", and the 3.6 and 3.7 upgrade guides): one minor version at a time, up or down,
// and the last patch releases of a minor before the next one, whose upgrade and downgrade support
// they carry (3.5.26 for 3.6; 3.6.11 for 3.7).

/** The lowest release of a minor that a cluster moves to (or from) the next minor on. */
const BRIDGE: Readonly<Record<string, { readonly minor: string; readonly patch: number }>> = {
  "3.6": { minor: "3.5", patch: 26 },
  "3.7": { minor: "3.6", patch: 11 },
};

interface Version {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
}

function parse(version: string): Version | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)$/.exec(version);
  return m ? { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) } : undefined;
}

const show = (v: Version) => `v${v.major}.${v.minor}.${v.patch}`;

/**
 * Why a cluster that runs `from` cannot be moved to `to` in one roll, with the path to take; or
 * undefined when it can (the same minor, or the next or previous one from a release that bridges).
 */
export function versionChangeProblem(from: string, to: string): string | undefined {
  const [a, b] = [parse(from), parse(to)];
  if (!a || !b) return undefined;
  if (a.major !== b.major) return `etcd does not change major version in a roll: stay on v${a.major}`;
  const step = b.minor - a.minor;
  if (step === 0) return undefined;
  const [lower, upper] = step > 0 ? [a, b] : [b, a];
  if (Math.abs(step) > 1) {
    const path = Array.from({ length: Math.abs(step) + 1 }, (_, i) => `${a.major}.${a.minor + Math.sign(step) * i}`);
    return `etcd ${step > 0 ? "upgrades" : "downgrades"} one minor version at a time: roll ${path.join(" -> ")}, one roll each`;
  }
  const bridge = BRIDGE[`${upper.major}.${upper.minor}`];
  if (bridge && lower.patch < bridge.patch) {
    const at = `v${bridge.minor}.${bridge.patch}`;
    return step > 0
      ? `etcd ${upper.major}.${upper.minor} needs every member on ${at} or later first: roll ${show(a)} -> ${at} (or a later ${
          bridge.minor
        }), then -> ${show(b)}`
      : `etcd ${upper.major}.${upper.minor} downgrades only to ${at} or later: roll to ${at} (or a later ${bridge.minor}) instead of ${show(
          b
        )}`;
  }
  return undefined;
}
