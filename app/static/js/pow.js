// Proof of work for creating a submission: find a nonce such that
// SHA-256(challenge ":" nonce) starts with `difficulty` zero bits.
// It costs an applicant a few seconds once and a flooder the same for every
// submission, without the server knowing who anyone is (no accounts, no IPs).

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
 * Solve a challenge with sodium's SHA-256, yielding to the page every batch so
 * the progress stays visible and the tab responsive on a slow phone.
 * Returns the nonce as a decimal string.
 */
export async function solve(sodium, challenge, difficulty, { batch = 2048, onProgress } = {}) {
  if (difficulty <= 0) return "0";
  const prefix = encoder.encode(`${challenge}:`);
  for (let start = 0; ; start += batch) {
    for (let nonce = start; nonce < start + batch; nonce += 1) {
      const digits = encoder.encode(String(nonce));
      const message = new Uint8Array(prefix.length + digits.length);
      message.set(prefix);
      message.set(digits, prefix.length);
      if (leadingZeroBits(sodium.crypto_hash_sha256(message)) >= difficulty) return String(nonce);
    }
    if (onProgress) onProgress(start + batch);
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}
