// RSA keys derived from a seed: the same seed and label give the same key on every machine, so a
// test PKI (test-pki.ts) is reproducible without committing it. NEVER for real clusters: anyone
// who knows the seed has the private key.
//
// forge's seeded keygen is pure JavaScript and takes seconds per 2048-bit key, too slow for a
// snapshot test that synthesizes a few clusters. Here the candidates come from SHA-256 of the seed
// and OpenSSL (crypto.checkPrimeSync) tests them, which takes milliseconds; node then builds and
// checks the key from its components.
import { checkPrimeSync, createHash, createPrivateKey } from "node:crypto";

const E = 65537n;
const KEY_SIZES = [2048, 3072, 4096];
const cache = new Map<string, string>();

/** A PKCS#1 PEM RSA key (as cfssl writes keys), a pure function of `seed`, `label` and `bits`. */
export function seededRsaKeyPem(seed: string, label: string, bits: number): string {
  if (!KEY_SIZES.includes(bits)) throw new Error(`seeded RSA keys are 2048, 3072 or 4096 bits, not ${bits}`);
  const id = JSON.stringify([seed, label, bits]);
  let pem = cache.get(id);
  if (pem === undefined) {
    pem = deriveKey(seed, label, bits);
    cache.set(id, pem);
  }
  return pem;
}

function deriveKey(seed: string, label: string, bits: number): string {
  const stream = byteStream(seed, label);
  const p = prime(stream, bits / 2);
  let q = prime(stream, bits / 2);
  while (q === p) q = prime(stream, bits / 2);
  const [big, small] = p > q ? [p, q] : [q, p];
  const n = big * small;
  const d = modInverse(E, (big - 1n) * (small - 1n));
  const jwk = {
    kty: "RSA",
    n: b64url(n),
    e: b64url(E),
    d: b64url(d),
    p: b64url(big),
    q: b64url(small),
    dp: b64url(d % (big - 1n)),
    dq: b64url(d % (small - 1n)),
    qi: b64url(modInverse(small, big)),
  };
  // OpenSSL checks the components' consistency on import: a wrong key fails here, not in a test.
  const key = createPrivateKey({ key: jwk, format: "jwk" });
  return key.export({ type: "pkcs1", format: "pem" }).toString();
}

/** SHA-256 in counter mode over (seed, label): an endless, reproducible byte source. */
function byteStream(seed: string, label: string): (length: number) => Buffer {
  let counter = 0;
  return (length) => {
    const blocks: Buffer[] = [];
    for (let have = 0; have < length; have += 32) {
      blocks.push(createHash("sha256").update(JSON.stringify(["cdktf-etcd-cluster seeded RSA", seed, label, counter++])).digest());
    }
    return Buffer.concat(blocks).subarray(0, length);
  };
}

// The two top bits set, so that the product of two such primes has exactly 2 * bits bits; odd; and
// p - 1 prime to e, so that e is invertible.
function prime(stream: (length: number) => Buffer, bits: number): bigint {
  for (;;) {
    const bytes = stream(bits / 8);
    bytes[0] |= 0xc0;
    bytes[bytes.length - 1] |= 0x01;
    const candidate = BigInt(`0x${bytes.toString("hex")}`);
    if ((candidate - 1n) % E !== 0n && checkPrimeSync(candidate, { checks: 64 })) return candidate;
  }
}

function modInverse(a: bigint, m: bigint): bigint {
  let [oldR, r] = [a % m, m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const quotient = oldR / r;
    [oldR, r] = [r, oldR - quotient * r];
    [oldS, s] = [s, oldS - quotient * s];
  }
  if (oldR !== 1n) throw new Error("not invertible");
  return ((oldS % m) + m) % m;
}

function b64url(value: bigint): string {
  let hex = value.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  return Buffer.from(hex, "hex").toString("base64url");
}
