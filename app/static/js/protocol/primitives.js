// Hashing, key ids, padding and DSSE signatures: the primitives the rest builds on.
// Part of intake-crypto.js, the public facade: import from there, not here.

import { ABYTES, GCM_ABYTES, KID_RE, MIN_PADDED } from "./constants.js";
import { concat, hex, requireBytes, u32be, utf8 } from "./encoding.js";
import { sodium } from "./state.js";

/** The spec's H(n, msg, key?): BLAKE2b with an n-byte digest. */
export function blake2b(size, message, key = null) {
  return sodium().crypto_generichash(size, message, key);
}

/** kid(pk) = lowercase hex of H(16, pk), for any public key. */
export function kid(publicKey) {
  requireBytes(publicKey, "publicKey");
  return hex(blake2b(16, publicKey));
}

/** "3f2a 91c0 …": a kid in 8 groups of 4 hex digits, as people compare keys. */
export function fingerprint(kidHex) {
  if (typeof kidHex !== "string" || !KID_RE.test(kidHex)) {
    throw new RangeError("fingerprint needs a kid of 32 lowercase hex digits");
  }
  return kidHex.match(/.{4}/g).join(" ");
}

// SHA-256 (FIPS 180-4) in plain JavaScript, for what must be synchronous
// (opening a v3 envelope) or where WebCrypto is missing (a page that is not a
// secure context). Sealing uses crypto.subtle.digest, native code, when it can.
const SHA256_K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

function sha256Blocks(state, w, bytes, at) {
  for (let i = 0; i < 16; i++, at += 4) {
    w[i] = (bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3];
  }
  for (let i = 16; i < 64; i++) {
    const a = w[i - 15];
    const b = w[i - 2];
    const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
    const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
    w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
  }
  let [a, b, c, d, e, f, g, h] = state;
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + S1 + ((e & f) ^ (~e & g)) + SHA256_K[i] + w[i]) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  state[0] += a; state[1] += b; state[2] += c; state[3] += d;
  state[4] += e; state[5] += f; state[6] += g; state[7] += h;
}

/** SHA-256 of `message` (synchronous, plain JavaScript). */
export function sha256(message) {
  requireBytes(message, "message");
  const state = new Uint32Array([
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
  ]);
  const w = new Int32Array(64);
  const whole = message.length - (message.length % 64);
  for (let at = 0; at < whole; at += 64) sha256Blocks(state, w, message, at);
  // The tail, 0x80, zeros and the bit length as u64be, in one or two blocks.
  const tail = new Uint8Array(message.length % 64 < 56 ? 64 : 128);
  tail.set(message.subarray(whole));
  tail[message.length - whole] = 0x80;
  const bits = message.length * 8;
  tail.set(u32be(Math.floor(bits / 2 ** 32)), tail.length - 8);
  tail.set(u32be(bits >>> 0), tail.length - 4);
  for (let at = 0; at < tail.length; at += 64) sha256Blocks(state, w, tail, at);
  const out = new Uint8Array(32);
  for (let i = 0; i < 8; i++) out.set(u32be(state[i]), 4 * i);
  return out;
}

// Native SHA-256 when the page has WebCrypto (a secure context: HTTPS, a
// .onion in Tor Browser, localhost); else the plain JavaScript one.
export function sha256Async(bytes) {
  const subtle = globalThis.crypto?.subtle;
  if (typeof subtle?.digest !== "function") return Promise.resolve(sha256(bytes));
  // digest() copies its input at the call, so the caller may reuse `bytes`.
  return subtle.digest("SHA-256", bytes).then((buffer) => new Uint8Array(buffer));
}

// ---------------------------------------------------------------- padding

function bitLength(n) {
  let bits = 0;
  while (n >= 1) {
    n = Math.floor(n / 2);
    bits++;
  }
  return bits;
}

/**
 * Padmé (PURBs): pads L so that at most O(log log L) bits of it leak.
 * E = floor(log2 L), S = floor(log2 E) + 1, mask = 2^(E-S) - 1.
 */
export function padme(length) {
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new RangeError("padme needs a non-negative integer");
  }
  if (length < 2) return length;
  const e = bitLength(length) - 1;
  const s = bitLength(e);
  const unit = 2 ** (e - s); // mask + 1
  return Math.ceil(length / unit) * unit;
}

/** Plaintext size of an envelope's payload for `contentLength` bytes of content. */
export function paddedSize(contentLength) {
  if (!Number.isSafeInteger(contentLength) || contentLength < 0) {
    throw new RangeError("content length must be a non-negative integer");
  }
  return padme(Math.max(8 + contentLength, MIN_PADDED));
}

/** Bytes each payload chunk adds: 17 (secretstream, v1-v3) or 16 (AES-GCM, v4). */
export function chunkOverhead(version) {
  return version >= 4 ? GCM_ABYTES : ABYTES;
}

export function ciphertextSize(padded, chunk, version) {
  return padded + chunkOverhead(version) * Math.ceil(padded / chunk);
}

// ---------------------------------------------------------------- AES-256-GCM (v4)

/** WebCrypto's AES-GCM, where the page has it (a secure context). */
export function webCryptoAesGcm() {
  const subtle = globalThis.crypto?.subtle;
  return typeof subtle?.encrypt === "function" && typeof subtle?.importKey === "function" ? subtle : null;
}

/** The v4 chunk nonce: stream[0:7] || u32be(index) || final (0x01 last, else 0x00). */
export function gcmNonce(streamHeader, index, final) {
  if (!Number.isInteger(index) || index < 0 || index >= 2 ** 32) throw new RangeError("too many chunks");
  const nonce = new Uint8Array(12);
  nonce.set(streamHeader.subarray(0, 7), 0);
  nonce.set(u32be(index), 7);
  nonce[11] = final ? 1 : 0;
  return nonce;
}

/** A non-extractable WebCrypto AES-256-GCM key for `usage` ("encrypt" or "decrypt"). */
export function importAesKey(rawKey, usage) {
  const subtle = webCryptoAesGcm();
  if (subtle === null) throw new TypeError("version-4 envelopes need WebCrypto (a secure context)");
  return subtle.importKey("raw", rawKey, { name: "AES-GCM" }, false, [usage]);
}

// ---------------------------------------------------------------- DSSE

/** PAE(t, b) = "DSSEv1" SP len(t) SP t SP len(b) SP b, lengths in ASCII decimal. */
export function pae(payloadType, payload) {
  if (typeof payloadType !== "string") throw new TypeError("payloadType must be a string");
  requireBytes(payload, "payload");
  const type = utf8(payloadType);
  return concat(
    utf8(`DSSEv1 ${type.length} `),
    type,
    utf8(` ${payload.length} `),
    payload,
  );
}

export function verifySignature(signature, message, publicKey) {
  // A wrongly sized signature is simply not valid, never a crash.
  if (!(signature instanceof Uint8Array) || signature.length !== 64) return false;
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) return false;
  try {
    return sodium().crypto_sign_verify_detached(signature, message, publicKey) === true;
  } catch {
    return false;
  }
}
