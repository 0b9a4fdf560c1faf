// Proof of work for creating a submission: find a nonce such that
// SHA-256(challenge ":" nonce) starts with `difficulty` zero bits.
// It costs an applicant a few seconds once and a flooder the same for every
// submission, without the server knowing who anyone is (no accounts, no IPs).
//
// SHA-256 comes from WebCrypto, not libsodium.js: it is native code, so it
// stays fast where the JIT is off (Tor Browser "Safer"), and libsodium's
// standard build does not export SHA-256 at all.

const encoder = new TextEncoder();

/** Number of leading zero bits of a byte array. */
export function leadingZeroBits(bytes) {
  let bits = 0;
  for (const byte of bytes) {
    if (byte === 0) { bits += 8; continue; }
    return bits + Math.clz32(byte) - 24;
  }
  return bits;
}

/**
 * Solve a challenge, hashing a batch of nonces at a time and yielding between
 * batches so progress stays visible and the tab responsive on a slow phone.
 * Returns the nonce as a decimal string.
 */
export async function solve(challenge, difficulty, { batch = 512, onProgress } = {}) {
  if (difficulty <= 0) return "0";
  const prefix = encoder.encode(`${challenge}:`);
  const subtle = globalThis.crypto.subtle;
  for (let start = 0; ; start += batch) {
    const digests = [];
    for (let nonce = start; nonce < start + batch; nonce += 1) {
      const digits = encoder.encode(String(nonce));
      const message = new Uint8Array(prefix.length + digits.length);
      message.set(prefix);
      message.set(digits, prefix.length);
      digests.push(subtle.digest("SHA-256", message));
    }
    const results = await Promise.all(digests);
    for (let i = 0; i < results.length; i += 1) {
      if (leadingZeroBits(new Uint8Array(results[i])) >= difficulty) return String(start + i);
    }
    if (onProgress) onProgress(start + batch);
  }
}
