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
 * Any difficulty the server names is solved: the server raises it under load
 * (one bit doubles the expected work), so `onProgress(tried, expected)` is
 * called after every batch with the nonces tried so far and the expected
 * total (2^difficulty), for a progress bar. Returns the nonce as a decimal
 * string.
 */
/**
 * An `onProgress` for `solve` that calls `show(percent)` only when the estimate
 * crosses another `step` percent (a status line read aloud must not chatter),
 * never above 95: the expected work is an average, not a promise.
 */
export function stepwise(show, step = 10) {
  let shown = 0;
  return (tried, expected) => {
    const percent = Math.min(95, Math.floor((100 * tried) / expected / step) * step);
    if (percent > shown) {
      shown = percent;
      show(percent);
    }
  };
}

export async function solve(challenge, difficulty, { batch = 512, onProgress } = {}) {
  // The server names at most 32 bits; anything else is a broken or hostile
  // answer, refused rather than hashed for ever.
  if (!Number.isInteger(difficulty) || difficulty < 0 || difficulty > 32) {
    throw new RangeError(`proof-of-work difficulty out of range: ${difficulty}`);
  }
  if (difficulty === 0) return "0";
  const expected = 2 ** difficulty;
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
    if (onProgress) onProgress(start + batch, expected);
  }
}
