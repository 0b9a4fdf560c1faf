// The applicant's side of the intake protocol (docs/PROTOCOL.md, version 3).
//
// Byte for byte the same as the Python `crypto` package: both pass the shared
// vectors in tests/vectors/. This module imports nothing; the page loads
// libsodium through sodium-loader.js and hands it over with init(sodium).
//
// Failures to open or verify throw IntakeError with `.reason` set to a failure
// class of PROTOCOL.md ("malformed", "header-mac", "bad-signature", ...).
// Misuse (wrong argument types) throws TypeError or RangeError.

export const PROTOCOL_VERSION = 4;
// Envelope version 3 changed only the payload digest (a BLAKE2b over each
// chunk's SHA-256, which WebCrypto computes natively even without a JIT or
// WebAssembly); readers still open "v": 1 and 2. Writers produce 3.
export const ENVELOPE_VERSION = 3;
const READ_VERSIONS = Object.freeze([1, 2, 3]);
export const MAGIC = new Uint8Array([0x49, 0x4e, 0x54, 0x41, 0x4b, 0x45, 0x76, 0x31]); // "INTAKEv1"
export const MANIFEST_PAYLOAD_TYPE = "application/vnd.intake.manifest+json";
export const KINDS = Object.freeze(["submission", "attachment", "followup", "reply"]);
export const DEFAULT_CHUNK = 65536;

// Bounds every reader enforces before doing any work (v2): a hostile header
// must not make us allocate without bound.
const MAX_HEADER_LEN = 65536;
const MIN_CHUNK = 4096;
const MAX_CHUNK = 1048576;
const MAX_RECIPIENTS = 64;
const MIN_PADDED = 4096;
const ABYTES = 17; // secretstream per-chunk overhead
const MAC_BYTES = 32;
const PREFIX_FIXED = 8 + 4; // magic + header_len
const SEALED_BYTES = 80; // crypto_box_seal of a 32-byte key
const STREAM_HEADER_BYTES = 24;
const KID_RE = /^[0-9a-f]{32}$/;

const LABEL_HEADER_MAC = utf8("intake/v1/header-mac");
const LABEL_PAYLOAD = utf8("intake/v1/payload");
const LABEL_PAYLOAD_DIGEST = utf8("intake/v2/payload-digest");
const LABEL_PAYLOAD_DIGEST_V3 = utf8("intake/v3/payload-digest");
const LABEL_MAILBOX_SALT = utf8("intake/v1/mailbox-salt");
const LABEL_REPLY = utf8("intake/v1/reply");
const LABEL_KEY_SET = utf8("intake/v3/key-set");
const STATUS_BYTE = { active: 1, retired: 2 };

let S = null; // the libsodium-wrappers object

/** A protocol failure: `.reason` is one of PROTOCOL.md's failure classes. */
export class IntakeError extends Error {
  constructor(reason, message) {
    super(message || reason);
    this.name = "IntakeError";
    this.reason = reason;
  }
}

/** Hand over the ready libsodium object (from sodium-loader.js). */
export function init(sodium) {
  for (const name of [
    "crypto_generichash",
    "crypto_generichash_init",
    "crypto_box_seal",
    "crypto_box_seal_open",
    "crypto_box_seed_keypair",
    "crypto_scalarmult_base",
    "crypto_sign_verify_detached",
    "crypto_secretstream_xchacha20poly1305_init_pull",
    "crypto_secretstream_xchacha20poly1305_push",
    "crypto_secretstream_xchacha20poly1305_pull",
    "randombytes_buf",
    "memcmp",
    "memzero",
  ]) {
    if (typeof sodium?.[name] !== "function") {
      throw new TypeError(`sodium object lacks ${name}: was it awaited?`);
    }
  }
  S = sodium;
}

function sodium() {
  if (S === null) throw new TypeError("intake-crypto: call init(sodium) first");
  return S;
}

// ---------------------------------------------------------------- encoding

function utf8(text) {
  return new TextEncoder().encode(text);
}

// fatal: invalid UTF-8 is an error, not U+FFFD; ignoreBOM: a BOM is kept, so
// the JSON parser refuses it as Python's json does, instead of eating it.
const UTF8_STRICT = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function decodeUtf8(bytes) {
  return UTF8_STRICT.decode(bytes);
}

function concat(...parts) {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function requireBytes(value, name, length) {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array`);
  if (length !== undefined && value.length !== length) {
    throw new RangeError(`${name} must be ${length} bytes`);
  }
  return value;
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_INDEX = (() => {
  const index = new Int16Array(128).fill(-1);
  for (let i = 0; i < 64; i++) index[B64.charCodeAt(i)] = i;
  return index;
})();

/** Standard base64 with padding (RFC 4648 section 4), as PROTOCOL.md uses inside JSON. */
export function b64encode(bytes) {
  requireBytes(bytes, "bytes");
  let out = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += B64[n >> 18] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + B64[n & 63];
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i] << 16;
    out += B64[n >> 18] + B64[(n >> 12) & 63] + "==";
  } else if (rest === 2) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += B64[n >> 18] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + "=";
  }
  return out;
}

/**
 * Strict standard base64, as the Python side's b64d: alphabet, padding,
 * length and canonical form (unused low bits zero) are all checked, so each
 * value has exactly one encoding and two readers cannot disagree about what a
 * field holds. Throws IntakeError("malformed") otherwise.
 */
export function b64decode(text) {
  if (typeof text !== "string" || text.length % 4 !== 0) {
    throw new IntakeError("malformed", "bad base64");
  }
  let pad = 0;
  if (text.endsWith("==")) pad = 2;
  else if (text.endsWith("=")) pad = 1;
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    const last = i + 4 === text.length;
    let n = 0;
    for (let j = 0; j < 4; j++) {
      const c = text.charCodeAt(i + j);
      let v;
      if (c === 61 /* = */ && last && j >= 4 - pad) v = 0;
      else v = c < 128 ? B64_INDEX[c] : -1;
      if (v < 0) throw new IntakeError("malformed", "bad base64");
      n = (n << 6) | v;
    }
    // Non-canonical: bits that padding leaves unused must be zero.
    if (last && ((pad === 1 && (n & 0xff) !== 0) || (pad === 2 && (n & 0xffff) !== 0))) {
      throw new IntakeError("malformed", "non-canonical base64");
    }
    out[o++] = (n >> 16) & 255;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
  }
  return out;
}

/** Lowercase hex. */
export function hex(bytes) {
  requireBytes(bytes, "bytes");
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

function fromHex(text) {
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(i * 2, 2), 16);
  return out;
}

// A JSON reader that accepts exactly what the Python side's load_json
// accepts (json.loads refusing duplicate keys and NaN/Infinity), so the
// browser and the verifier tool agree on every document. Integers come back
// as numbers (as BigInt beyond 2^53, where a number would silently round);
// numbers written with a fraction or exponent come back as Number objects
// (typeof "object"), so a field that must be an integer can tell `65536.0`
// from `65536`, as Python does. Property names such as "__proto__" are stored
// as plain own properties, never as prototypes.
const JSON_ESCAPES = Object.freeze({
  '"': '"',
  "\\": "\\",
  "/": "/",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
});

class JsonReader {
  constructor(text) {
    this.s = text;
    this.i = 0;
    this.depth = 0;
  }

  fail() {
    throw new IntakeError("malformed", "bad JSON");
  }

  ws() {
    const s = this.s;
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) this.i++;
      else break;
    }
  }

  document() {
    this.ws();
    const value = this.value();
    this.ws();
    if (this.i !== this.s.length) this.fail();
    return value;
  }

  value() {
    const s = this.s;
    if (this.i >= s.length) this.fail();
    const c = s[this.i];
    if (c === "{") return this.object();
    if (c === "[") return this.array();
    if (c === '"') return this.string();
    if (s.startsWith("true", this.i)) return (this.i += 4), true;
    if (s.startsWith("false", this.i)) return (this.i += 5), false;
    if (s.startsWith("null", this.i)) return (this.i += 4), null;
    return this.number(); // NaN and Infinity are refused, as on the Python side
  }

  enter() {
    // Python raises RecursionError near 1000 levels; refuse well before.
    if (++this.depth > 512) this.fail();
  }

  object() {
    this.enter();
    this.i++;
    const out = {};
    this.ws();
    if (this.s[this.i] === "}") {
      this.i++;
      this.depth--;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') this.fail();
      const key = this.string();
      this.ws();
      if (this.s[this.i] !== ":") this.fail();
      this.i++;
      this.ws();
      const value = this.value();
      // Parsers disagree on duplicate keys (first or last wins): refuse them.
      if (Object.prototype.hasOwnProperty.call(out, key)) this.fail();
      Object.defineProperty(out, key, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
      this.ws();
      const c = this.s[this.i++];
      if (c === "}") break;
      if (c !== ",") this.fail();
    }
    this.depth--;
    return out;
  }

  array() {
    this.enter();
    this.i++;
    const out = [];
    this.ws();
    if (this.s[this.i] === "]") {
      this.i++;
      this.depth--;
      return out;
    }
    for (;;) {
      this.ws();
      out.push(this.value());
      this.ws();
      const c = this.s[this.i++];
      if (c === "]") break;
      if (c !== ",") this.fail();
    }
    this.depth--;
    return out;
  }

  string() {
    const s = this.s;
    this.i++; // opening quote
    let out = "";
    let start = this.i;
    for (;;) {
      if (this.i >= s.length) this.fail();
      const c = s.charCodeAt(this.i);
      if (c === 0x22) {
        out += s.slice(start, this.i);
        this.i++;
        return out;
      }
      if (c < 0x20) this.fail(); // control characters must be escaped
      if (c === 0x5c) {
        out += s.slice(start, this.i);
        const e = s[this.i + 1];
        this.i += 2;
        if (e !== undefined && Object.prototype.hasOwnProperty.call(JSON_ESCAPES, e)) {
          out += JSON_ESCAPES[e];
        } else if (e === "u") {
          const h = s.substr(this.i, 4);
          if (!/^[0-9a-fA-F]{4}$/.test(h)) this.fail();
          out += String.fromCharCode(parseInt(h, 16));
          this.i += 4;
        } else {
          this.fail();
        }
        start = this.i;
        continue;
      }
      this.i++;
    }
  }

  number() {
    const m = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?/y;
    m.lastIndex = this.i;
    const found = m.exec(this.s);
    if (!found) this.fail();
    this.i = m.lastIndex;
    if (found[1] === undefined && found[2] === undefined) {
      const n = Number(found[0]);
      // Beyond 2^53 a number cannot hold the integer exactly: keep it as a
      // BigInt, which no integer field accepts (the Python side bounds them).
      if (!Number.isSafeInteger(n)) {
        if (found[0].replace("-", "").length > 4300) this.fail(); // Python's int limit
        return BigInt(found[0]);
      }
      return n;
    }
    return new Number(Number(found[0]));
  }
}

/** Parse UTF-8 JSON bytes exactly as the Python side does; IntakeError("malformed") otherwise. */
export function parseJsonBytes(bytes, reason = "malformed") {
  let text;
  try {
    text = decodeUtf8(bytes);
  } catch {
    throw new IntakeError(reason, "not UTF-8");
  }
  try {
    return new JsonReader(text).document();
  } catch (error) {
    if (error instanceof IntakeError) throw new IntakeError(reason, error.message);
    throw new IntakeError(reason, "bad JSON");
  }
}

function isInt(value) {
  return typeof value === "number" && Number.isSafeInteger(value);
}

function isPlainObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value) && !(value instanceof Number);
}

function hasExactKeys(obj, keys) {
  const own = Object.keys(obj);
  return own.length === keys.length && keys.every((k) => Object.prototype.hasOwnProperty.call(obj, k));
}

// ---------------------------------------------------------------- hashing, ids

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
function sha256Async(bytes) {
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

function ciphertextSize(padded, chunk) {
  return padded + ABYTES * Math.ceil(padded / chunk);
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

function verifySignature(signature, message, publicKey) {
  // A wrongly sized signature is simply not valid, never a crash.
  if (!(signature instanceof Uint8Array) || signature.length !== 64) return false;
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) return false;
  try {
    return sodium().crypto_sign_verify_detached(signature, message, publicKey) === true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------- manifests

const TIME_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z$/;

/**
 * Parse an RFC 3339 UTC time (`2026-11-22T10:00:00Z`; fractional seconds
 * allowed, as toISOString writes them) into a Date, as the Python side's
 * parse_time. IntakeError("malformed") otherwise.
 */
export function parseTime(text) {
  const m = typeof text === "string" ? TIME_RE.exec(text) : null;
  if (!m) throw new IntakeError("malformed", "bad time");
  const [y, mo, d, h, mi, sec] = m.slice(1, 7).map(Number);
  const ms = Number((m[7] || "0").padEnd(3, "0").slice(0, 3));
  const date = new Date(0);
  // setUTCFullYear, unlike Date.UTC, does not map years 0-99 to 1900-1999.
  date.setUTCFullYear(y, mo - 1, d);
  date.setUTCHours(h, mi, sec, ms);
  // Refuse 2026-02-30, 24:00:00 and year 0 rather than let Date roll them over.
  if (
    y < 1 ||
    date.getUTCFullYear() !== y ||
    date.getUTCMonth() !== mo - 1 ||
    date.getUTCDate() !== d ||
    date.getUTCHours() !== h ||
    date.getUTCMinutes() !== mi ||
    date.getUTCSeconds() !== sec
  ) {
    throw new IntakeError("malformed", "bad time");
  }
  return date;
}

function bad(message) {
  return new IntakeError("malformed", message);
}

function key32(value, what) {
  const bytes = typeof value === "string" ? b64decode(value) : null;
  if (!bytes || bytes.length !== 32) throw bad(`${what}: need 32 bytes`);
  return bytes;
}

function label(value, what) {
  if (typeof value !== "string") throw bad(`${what}: label must be a string`);
  return value;
}

// Admin and courier lists: {kid, ed25519, label}, kid = kid(ed25519), unique.
function signingKeys(entries, what) {
  if (!Array.isArray(entries)) throw bad(`${what}: not a list`);
  const out = entries.map((entry) => {
    if (!isPlainObject(entry)) throw bad(`${what}: not an object`);
    const ed25519 = key32(entry.ed25519, what);
    // A manifest cannot name one key and list another.
    if (entry.kid !== kid(ed25519)) throw bad(`${what}: kid does not match its key`);
    return { kid: entry.kid, label: label(entry.label, what), ed25519 };
  });
  if (new Set(out.map((k) => k.kid)).size !== out.length) throw bad(`${what}: kid listed twice`);
  return out;
}

function verifierEntries(entries) {
  if (!Array.isArray(entries)) throw bad("verifiers: not a list");
  const out = entries.map((entry) => {
    if (!isPlainObject(entry)) throw bad("verifier: not an object");
    const x25519 = key32(entry.x25519, "verifier");
    const ed25519 = key32(entry.ed25519, "verifier");
    if (entry.kid !== kid(x25519)) throw bad("verifier: kid does not match its key");
    if (entry.status !== "active" && entry.status !== "retired") throw bad("verifier: bad status");
    return {
      kid: entry.kid,
      label: label(entry.label, "verifier"),
      x25519,
      ed25519,
      status: entry.status,
      signKid: kid(ed25519),
    };
  });
  if (
    new Set(out.map((v) => v.kid)).size !== out.length ||
    new Set(out.map((v) => v.signKid)).size !== out.length
  ) {
    throw bad("verifiers: key listed twice");
  }
  return out;
}

// The DSSE envelope: exactly {payloadType, payload, signatures}, each
// signature exactly {keyid, sig}. A signature that is not 64 bytes is kept as
// null: it names a key but can never verify.
function parseDsse(envelope) {
  if (!isPlainObject(envelope) || !hasExactKeys(envelope, ["payloadType", "payload", "signatures"])) {
    throw bad("DSSE: wrong fields");
  }
  if (typeof envelope.payloadType !== "string") throw bad("DSSE: bad payloadType");
  const payload = typeof envelope.payload === "string" ? b64decode(envelope.payload) : null;
  if (payload === null) throw bad("DSSE: bad payload");
  if (!Array.isArray(envelope.signatures)) throw bad("DSSE: bad signatures");
  const signatures = envelope.signatures.map((entry) => {
    if (!isPlainObject(entry) || !hasExactKeys(entry, ["keyid", "sig"])) throw bad("DSSE: bad signature");
    if (typeof entry.keyid !== "string" || typeof entry.sig !== "string") throw bad("DSSE: bad signature");
    const sig = b64decode(entry.sig);
    return { keyid: entry.keyid, sig: sig.length === 64 ? sig : null };
  });
  return { payloadType: envelope.payloadType, payload, signatures };
}

function field(data, name) {
  // A missing field is malformed (Python's KeyError), never undefined.
  if (!Object.prototype.hasOwnProperty.call(data, name)) throw bad(`manifest: no ${name}`);
  return data[name];
}

/**
 * Parse a DSSE manifest's structure (no signature check): the parsed manifest,
 * or IntakeError("malformed"). Unknown fields are ignored.
 */
export function parseManifest(envelope) {
  const { payloadType, payload, signatures } = parseDsse(envelope);
  if (payloadType !== MANIFEST_PAYLOAD_TYPE) throw bad("manifest: wrong payloadType");
  const data = parseJsonBytes(payload);
  if (!isPlainObject(data) || data.type !== "intake/manifest") throw bad("manifest: wrong type");
  const version = field(data, "version");
  if (!isInt(version) || version < 1) throw bad("manifest: bad version");
  const issued = parseTime(field(data, "issued"));
  const expires = parseTime(field(data, "expires"));
  if (!isPlainObject(field(data, "org"))) throw bad("manifest: bad org");
  const adminsDoc = field(data, "admins");
  if (!isPlainObject(adminsDoc)) throw bad("manifest: bad admins");
  const admins = signingKeys(field(adminsDoc, "keys"), "admins");
  const threshold = field(adminsDoc, "threshold");
  if (!isInt(threshold) || threshold < 1 || threshold > admins.length) {
    throw bad("manifest: threshold out of range");
  }
  const verifiers = verifierEntries(field(data, "verifiers"));
  const couriers = signingKeys(field(data, "couriers"), "couriers");
  const digest = blake2b(32, payload);
  const keySet = keySetBytes(threshold, admins, verifiers);
  return Object.freeze({
    envelope,
    payload,
    data,
    signatures,
    version,
    issued,
    expires,
    threshold,
    admins,
    verifiers,
    couriers,
    digest,
    ref: Object.freeze({ version, digest }),
    fingerprint: fingerprint(hex(blake2b(16, payload))),
    keySetBytes: keySet,
    // (v3) What applicants compare: a renewal keeps it, any change of who may
    // read or sign changes it, so a rolled-back chain cannot show the current one.
    keySetFingerprint: fingerprint(hex(blake2b(16, keySet))),
  });
}

function compareBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/**
 * (v3) The bytes of the key-set fingerprint: "intake/v3/key-set" ||
 * u32be(threshold) || u32be(n) || admin kids (16 bytes each, ascending) ||
 * u32be(m) || per verifier, ascending by kid: kid || sign kid || status byte
 * (1 active, 2 retired). Fixed-width fields, no JSON.
 */
function keySetBytes(threshold, admins, verifiers) {
  const adminKids = admins.map((a) => fromHex(a.kid)).sort(compareBytes);
  const entries = verifiers
    .map((v) => concat(fromHex(v.kid), fromHex(v.signKid), new Uint8Array([STATUS_BYTE[v.status]])))
    .sort(compareBytes);
  return concat(LABEL_KEY_SET, u32be(threshold), u32be(adminKids.length), ...adminKids, u32be(entries.length), ...entries);
}

// Too few valid signatures of `keys` is "bad-signature" if a key of that set
// signed but its signature did not verify (forged or damaged), else
// "threshold" (simply missing). Each key counts once however often it signed,
// and a signature counts only against the key its keyid names.
// Signature checks already made on a manifest, so a key in both the old and
// the new admin set is verified once (Ed25519 costs ~0.1 s without a JIT).
const checkedSignatures = new WeakMap();

function signatureValid(manifest, index, publicKey) {
  let cache = checkedSignatures.get(manifest);
  if (cache === undefined) {
    cache = new Map();
    checkedSignatures.set(manifest, cache);
  }
  const cacheKey = `${index}:${b64encode(publicKey)}`;
  if (!cache.has(cacheKey)) {
    const { sig } = manifest.signatures[index];
    const message = pae(MANIFEST_PAYLOAD_TYPE, manifest.payload);
    cache.set(cacheKey, sig !== null && verifySignature(sig, message, publicKey));
  }
  return cache.get(cacheKey);
}

function requireSigners(manifest, keys, threshold) {
  const byKid = new Map(keys.map((k) => [k.kid, k.ed25519]));
  const valid = new Set();
  const failed = new Set();
  manifest.signatures.forEach(({ keyid }, index) => {
    const publicKey = byKid.get(keyid);
    if (publicKey === undefined) return;
    if (signatureValid(manifest, index, publicKey)) valid.add(keyid);
    else failed.add(keyid);
  });
  if (valid.size < threshold) {
    const forged = [...failed].some((k) => !valid.has(k));
    throw new IntakeError(forged ? "bad-signature" : "threshold", "not enough valid signatures");
  }
}

function normaliseRoot(trustRoot) {
  const kids = trustRoot?.admins ?? trustRoot?.admin_kids;
  if (!isInt(trustRoot?.threshold) || !Array.isArray(kids)) {
    throw new TypeError("trustRoot must be {threshold, admins: [kid, ...]}");
  }
  return { threshold: trustRoot.threshold, kids: new Set(kids) };
}

function verifyGenesis(envelope, root) {
  const genesis = parseManifest(envelope);
  const kids = genesis.admins.map((a) => a.kid);
  // Genesis is trusted only because its admin set is exactly the pinned one.
  if (
    genesis.version !== 1 ||
    genesis.threshold !== root.threshold ||
    kids.length !== root.kids.size ||
    kids.some((k) => !root.kids.has(k))
  ) {
    throw new IntakeError("untrusted-root", "genesis does not match the pinned admin set");
  }
  requireSigners(genesis, genesis.admins, genesis.threshold);
  return genesis;
}

function acceptSuccessor(current, envelope) {
  const next = parseManifest(envelope);
  // An old manifest (naming a since-revoked key) cannot be replayed.
  if (next.version <= current.version) throw new IntakeError("rollback", "version not increasing");
  requireSigners(next, current.admins, current.threshold); // the admins trusted so far agree
  requireSigners(next, next.admins, next.threshold); // a rotated-in admin set consented too
  return next;
}

/**
 * (v3) A page's manifest anchor, from the JSON text of its
 * data-manifest-anchor attribute: {version, digest (32 bytes)}. Anything
 * else, a missing attribute included, is IntakeError("malformed"): a page
 * that cannot say which manifest it was built for encrypts to nothing.
 */
export function parseAnchor(text) {
  if (typeof text !== "string" || text === "") throw bad("anchor: missing");
  const data = parseJsonBytes(utf8(text));
  if (!isPlainObject(data) || !hasExactKeys(data, ["version", "digest"])) throw bad("anchor: wrong fields");
  if (!isInt(data.version) || data.version < 1) throw bad("anchor: bad version");
  const digest = typeof data.digest === "string" ? b64decode(data.digest) : null;
  if (digest === null || digest.length !== 32) throw bad("anchor: bad digest");
  return Object.freeze({ version: data.version, digest });
}

// (v3) The chain must reach the manifest the page was rendered for: a server
// serving the chain as it was before a revocation is refused here, since
// every link of the old chain is still validly signed.
function checkAnchor(trusted, anchor) {
  if (!isInt(anchor?.version) || !(anchor.digest instanceof Uint8Array)) {
    throw new TypeError("anchor must be {version, digest} (from parseAnchor)");
  }
  const link = trusted.find((m) => m.version === anchor.version);
  if (link === undefined || !sameDigest(link.digest, anchor.digest)) {
    throw new IntakeError("rollback", "the chain does not reach the manifest this page was built for");
  }
}

function sameDigest(a, b) {
  return a.length === b.length && sodium().memcmp(a, b);
}

/**
 * Walk the manifest chain (genesis first) from the pinned trust root, as
 * PROTOCOL.md's trust rule says. Returns the verified manifests, genesis
 * first; the last is the one to encrypt to. Throws IntakeError with reason
 * malformed, untrusted-root, rollback, bad-signature, threshold or expired,
 * checking link by link in that order (as the Python side does); then, given
 * an anchor (v3), rollback for a chain that does not reach it; then expired.
 *
 * @param {object[]} chain DSSE envelopes, genesis first (as GET /api/v1/manifests)
 * @param {{threshold: number, admins: string[]}} trustRoot the pinned admin set
 * @param {Date} [now]
 * @param {{version: number, digest: Uint8Array}} [anchor] the page's anchor (parseAnchor)
 */
export function verifyChain(chain, trustRoot, now = new Date(), anchor = undefined) {
  const root = normaliseRoot(trustRoot);
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw new TypeError("now must be a Date");
  if (!Array.isArray(chain) || chain.length === 0) throw bad("chain: empty");
  const trusted = [verifyGenesis(chain[0], root)];
  for (const envelope of chain.slice(1)) trusted.push(acceptSuccessor(trusted[trusted.length - 1], envelope));
  if (anchor !== undefined) checkAnchor(trusted, anchor);
  const latest = trusted[trusted.length - 1];
  // (v2) Only the latest must be fresh; older links expired in the normal course.
  if (latest.expires.getTime() <= now.getTime()) {
    throw new IntakeError("expired", "the latest manifest has expired");
  }
  return trusted;
}

/** The verifiers new messages are encrypted to. */
export function activeVerifiers(manifest) {
  return manifest.verifiers.filter((v) => v.status === "active");
}

// ---------------------------------------------------------------- envelopes

function u32be(n) {
  return new Uint8Array([(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
}

function u64be(n) {
  const out = new Uint8Array(8);
  const high = Math.floor(n / 2 ** 32);
  const low = n >>> 0;
  out.set(u32be(high), 0);
  out.set(u32be(low), 4);
  return out;
}

function readU64be(bytes) {
  let n = 0;
  for (let i = 0; i < 8; i++) n = n * 256 + bytes[i];
  return n; // may exceed 2^53 and lose precision; callers only range-check it
}

function subkeys(key) {
  return {
    headerKey: blake2b(32, LABEL_HEADER_MAC, key),
    payloadKey: blake2b(32, LABEL_PAYLOAD, key),
  };
}

function headerMac(headerKey, prefixWithoutMac) {
  return blake2b(32, prefixWithoutMac, headerKey);
}

/**
 * Parse an envelope's prefix (magic … header_mac) and check structure and
 * bounds only; no key needed. Returns the header fields and the offset where
 * the payload starts. IntakeError("malformed") otherwise.
 */
export function parseHeader(bytes) {
  requireBytes(bytes, "envelope");
  if (bytes.length < PREFIX_FIXED) throw bad("envelope: too short");
  for (let i = 0; i < 8; i++) if (bytes[i] !== MAGIC[i]) throw bad("envelope: bad magic");
  const headerLen = ((bytes[8] << 24) | (bytes[9] << 16) | (bytes[10] << 8) | bytes[11]) >>> 0;
  if (headerLen > MAX_HEADER_LEN) throw bad("envelope: header too long");
  const payloadStart = PREFIX_FIXED + headerLen + MAC_BYTES;
  if (bytes.length < payloadStart) throw bad("envelope: prefix truncated");
  const raw = bytes.subarray(PREFIX_FIXED, PREFIX_FIXED + headerLen);
  const h = parseJsonBytes(raw);
  if (!isPlainObject(h) || !hasExactKeys(h, ["v", "kind", "manifest", "recipients", "stream", "chunk"])) {
    throw bad("header: wrong keys");
  }
  if (!READ_VERSIONS.includes(h.v)) throw bad("header: unknown version");
  if (!KINDS.includes(h.kind)) throw bad("header: unknown kind");
  if (!isInt(h.chunk) || h.chunk < MIN_CHUNK || h.chunk > MAX_CHUNK) throw bad("header: chunk out of range");
  const m = h.manifest;
  if (!isPlainObject(m) || !hasExactKeys(m, ["version", "digest"]) || !isInt(m.version) || m.version < 1) {
    throw bad("header: bad manifest reference");
  }
  const manifestDigest = typeof m.digest === "string" ? b64decode(m.digest) : null;
  if (!manifestDigest || manifestDigest.length !== 32) throw bad("header: bad manifest digest");
  if (!Array.isArray(h.recipients) || h.recipients.length < 1 || h.recipients.length > MAX_RECIPIENTS) {
    throw bad("header: recipient count out of range");
  }
  const recipients = h.recipients.map((r) => {
    if (!isPlainObject(r) || !hasExactKeys(r, ["kid", "sealed"])) throw bad("header: bad recipient");
    if (typeof r.kid !== "string" || !KID_RE.test(r.kid)) throw bad("header: bad recipient kid");
    const sealed = typeof r.sealed === "string" ? b64decode(r.sealed) : null;
    if (!sealed || sealed.length !== SEALED_BYTES) throw bad("header: bad sealed key");
    return { kid: r.kid, sealed };
  });
  const streamHeader = typeof h.stream === "string" ? b64decode(h.stream) : null;
  if (!streamHeader || streamHeader.length !== STREAM_HEADER_BYTES) throw bad("header: bad stream header");
  return {
    v: h.v,
    kind: h.kind,
    manifest: { version: m.version, digest: manifestDigest },
    recipients,
    streamHeader,
    chunk: h.chunk,
    raw,
    prefix: bytes.subarray(0, payloadStart),
    payloadStart,
  };
}

/**
 * The payload digest (PROTOCOL.md): for "v": 1 and 2,
 * H(32, "intake/v2/payload-digest" || stream_header || payload); for "v": 3,
 * H(32, "intake/v3/payload-digest" || stream_header || SHA-256(c_1) || ... ||
 * SHA-256(c_n)), c_i the payload's chunks of chunk + 17 bytes (the last shorter).
 */
export function payloadDigest(envelopeBytes) {
  const header = parseHeader(envelopeBytes);
  const s = sodium();
  const payload = envelopeBytes.subarray(header.payloadStart);
  const state = s.crypto_generichash_init(null, 32);
  if (header.v < 3) {
    s.crypto_generichash_update(state, LABEL_PAYLOAD_DIGEST);
    s.crypto_generichash_update(state, header.streamHeader);
    s.crypto_generichash_update(state, payload);
  } else {
    s.crypto_generichash_update(state, LABEL_PAYLOAD_DIGEST_V3);
    s.crypto_generichash_update(state, header.streamHeader);
    const step = header.chunk + ABYTES;
    for (let at = 0; at < payload.length; at += step) {
      s.crypto_generichash_update(state, sha256(payload.subarray(at, at + step)));
    }
  }
  return s.crypto_generichash_final(state, 32);
}

/**
 * Open a whole envelope held in memory, with every check of PROTOCOL.md.
 * Nothing of the content is returned unless the whole envelope verified.
 *
 * @param {Uint8Array} bytes the envelope
 * @param {Uint8Array|Array<{secret: Uint8Array, public?: Uint8Array}>} x25519Secret
 *   one X25519 secret key, or a list of key pairs (a keyring: every key is tried)
 * @param {Uint8Array} [x25519Public] its public key (derived when omitted)
 * @returns {{header, content: Uint8Array, payloadDigest: Uint8Array, openedBy: number}}
 *   openedBy is the index of the key pair that opened it
 * @throws IntakeError malformed, no-match, header-mac, payload, truncated,
 *   trailing-data or padding (checked in that order, as the Python side)
 */
export function openEnvelope(bytes, x25519Secret, x25519Public = null) {
  requireBytes(bytes, "envelope");
  const s = sodium();
  const given = Array.isArray(x25519Secret) ? x25519Secret : [{ secret: x25519Secret, public: x25519Public }];
  const openers = given.map((pair) => {
    requireBytes(pair.secret, "x25519 secret key", 32);
    const publicKey = pair.public ?? s.crypto_scalarmult_base(pair.secret);
    requireBytes(publicKey, "x25519 public key", 32);
    return { secret: pair.secret, public: publicKey, kid: kid(publicKey) };
  });
  const header = parseHeader(bytes);
  const { key, index } = recoverKey(header, bytes, openers);
  const payloadKey = blake2b(32, LABEL_PAYLOAD, key);
  s.memzero(key);
  let plain;
  try {
    plain = decryptPayload(bytes.subarray(header.payloadStart), header, payloadKey);
  } finally {
    s.memzero(payloadKey);
  }
  const content = unpad(plain);
  s.memzero(plain);
  return { header, content, payloadDigest: payloadDigest(bytes), openedBy: index };
}

// Find K: kids are only hints (a server could rename them), so each key is
// tried first against the entries naming it, then against every other entry.
// A K counts only if it also verifies the header MAC, so a hostile extra
// entry sealing some other key cannot shadow ours.
function recoverKey(header, bytes, openers) {
  const s = sodium();
  const pairs = [];
  for (const o of openers) for (const r of header.recipients) if (r.kid === o.kid) pairs.push([o, r.sealed]);
  for (const o of openers) for (const r of header.recipients) if (r.kid !== o.kid) pairs.push([o, r.sealed]);
  const covered = bytes.subarray(0, header.payloadStart - MAC_BYTES);
  const mac = bytes.subarray(header.payloadStart - MAC_BYTES, header.payloadStart);
  let openedAny = false;
  for (const [opener, sealed] of pairs) {
    let key;
    try {
      key = s.crypto_box_seal_open(sealed, opener.public, opener.secret);
    } catch {
      continue;
    }
    if (key.length !== 32) continue;
    openedAny = true;
    const headerKey = blake2b(32, LABEL_HEADER_MAC, key);
    const ok = s.memcmp(headerMac(headerKey, covered), mac);
    s.memzero(headerKey);
    if (ok) return { key, index: openers.indexOf(opener) };
    s.memzero(key);
  }
  if (openedAny) throw new IntakeError("header-mac", "header MAC does not verify");
  throw new IntakeError("no-match", "no key of ours opens this envelope");
}

function decryptPayload(payload, header, payloadKey) {
  const s = sodium();
  const state = s.crypto_secretstream_xchacha20poly1305_init_pull(header.streamHeader, payloadKey);
  const TAG_MESSAGE = s.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
  const TAG_FINAL = s.crypto_secretstream_xchacha20poly1305_TAG_FINAL;
  const pieces = [];
  let total = 0;
  let at = 0;
  let final = false;
  while (at < payload.length) {
    if (final) throw new IntakeError("trailing-data", "bytes after the final chunk");
    const piece = payload.subarray(at, Math.min(at + header.chunk + ABYTES, payload.length));
    at += piece.length;
    const out = piece.length > ABYTES
      ? s.crypto_secretstream_xchacha20poly1305_pull(state, piece, null)
      : false;
    if (!out) throw new IntakeError("payload", "a chunk does not authenticate");
    if (out.tag === TAG_FINAL) {
      if (out.message.length === 0) throw new IntakeError("payload", "empty final chunk");
      final = true;
    }
    else if (out.tag !== TAG_MESSAGE) throw new IntakeError("payload", "unexpected chunk tag");
    pieces.push(out.message);
    total += out.message.length;
  }
  if (!final) throw new IntakeError("truncated", "the stream ends before its final chunk");
  const plain = new Uint8Array(total);
  let o = 0;
  for (const p of pieces) {
    plain.set(p, o);
    o += p.length;
  }
  return plain;
}

function unpad(plain) {
  if (plain.length < 8) throw new IntakeError("padding", "no length prefix");
  const n = readU64be(plain);
  if (n > plain.length - 8 || plain.length !== paddedSize(n)) {
    throw new IntakeError("padding", "length prefix out of range");
  }
  for (let i = 8 + n; i < plain.length; i++) {
    if (plain[i] !== 0) throw new IntakeError("padding", "padding is not all zero");
  }
  return plain.slice(8, 8 + n);
}

// ---------------------------------------------------------------- content

const CONTENT_VERSION = 2;
const HEX32_RE = /^[0-9a-f]{32}$/;
const HEX64_RE = /^[0-9a-f]{64}$/;

function contentFail(message) {
  return new TypeError(`content: ${message}`);
}

function nonEmptyString(value, what) {
  if (typeof value !== "string" || !value) throw contentFail(`${what} must be a non-empty string`);
  return value;
}

// A 32-byte value as the content carries it: standard base64.
function base64Key(value, what) {
  let bytes = value instanceof Uint8Array ? value : null;
  if (!bytes) {
    try {
      bytes = b64decode(value);
    } catch {
      // reported below
    }
  }
  if (!bytes || bytes.length !== 32) throw contentFail(`${what} must be 32 bytes or their base64`);
  return typeof value === "string" ? value : b64encode(bytes);
}

function contentAnswers(answers) {
  if (!isPlainObject(answers)) throw contentFail("answers must be an object");
  for (const [name, value] of Object.entries(answers)) {
    nonEmptyString(name, "an answer's field id");
    const ok = typeof value === "string" || (Array.isArray(value) && value.every((v) => typeof v === "string"));
    if (!ok) throw contentFail(`answer ${name} must be a string or a list of strings`);
  }
  return answers;
}

function contentAttachments(attachments) {
  if (!Array.isArray(attachments)) throw contentFail("attachments must be a list");
  const seen = new Set();
  return attachments.map(({ id, name, type, size, digest }) => {
    if (typeof id !== "string" || !HEX32_RE.test(id)) throw contentFail("an attachment id must be 32 lowercase hex");
    if (seen.has(id)) throw contentFail(`attachment ${id} is named twice`);
    seen.add(id);
    if (typeof name !== "string") throw contentFail(`attachment ${id}: name must be a string`);
    if (!isInt(size) || size < 0) throw contentFail(`attachment ${id}: size must be a whole number of bytes`);
    return {
      id,
      name,
      type: type || "application/octet-stream",
      size,
      digest: base64Key(digest, `attachment ${id}: digest`),
    };
  });
}

/**
 * The one encoder of the submission and follow-up content (PROTOCOL.md
 * "Submission content", version 2), as the UTF-8 bytes to seal, so the
 * intake and mailbox pages cannot drift apart. `attachments` are
 * `{id, name, type, size, digest}` (digest: the payload digest, 32 bytes or
 * their base64; an empty type becomes application/octet-stream); `reply` is
 * `{x25519, mailbox}` or null when he declined a mailbox; `sent` is a Date,
 * written to the second. A digest's base64 has one length whatever its
 * value, so the size is known before the attachments are sealed. Throws
 * TypeError on input the protocol does not allow (a page's bug, never sent).
 */
export function buildContent({ lang, form, answers, attachments, reply = null, sent = new Date() }) {
  if (!isPlainObject(form) || !isInt(form.version) || form.version < 1) {
    throw contentFail("form must be {id, version} with a positive integer version");
  }
  if (!(sent instanceof Date) || Number.isNaN(sent.getTime())) throw contentFail("sent must be a valid Date");
  const content = {
    v: CONTENT_VERSION,
    lang: nonEmptyString(lang, "lang"),
    form: { id: nonEmptyString(form.id, "form id"), version: form.version },
    answers: contentAnswers(answers),
    attachments: contentAttachments(attachments),
  };
  if (reply !== null) {
    if (typeof reply?.mailbox !== "string" || !HEX64_RE.test(reply.mailbox)) {
      throw contentFail("reply mailbox must be 64 lowercase hex");
    }
    content.reply = { x25519: base64Key(reply.x25519, "reply x25519"), mailbox: reply.mailbox };
  }
  // The applicant's clock to the second: PROTOCOL.md's time, no milliseconds.
  content.sent = sent.toISOString().replace(/\.\d{3}Z$/, "Z");
  if (!TIME_RE.test(content.sent)) throw contentFail("sent is outside the years 0001-9999");
  return utf8(JSON.stringify(content));
}

// ---------------------------------------------------------------- sealing

// Sealing gathers this many plaintext bytes (rounded down to whole chunks) in
// one reused buffer, then encrypts them chunk by chunk: few awaits per MiB,
// and memory bounded whatever the file's size.
const WINDOW_BYTES = 1 << 20;
// The page stays responsive if sealing gives the event loop a turn this often.
const YIELD_EVERY_MS = 10;
// (v3) Chunk hashes WebCrypto may still be computing while sealing goes on.
const PENDING_HASHES = 16;

function yieldToEventLoop() {
  // Let the page paint and respond. A MessageChannel message is not clamped
  // to 4 ms the way nested setTimeout calls are.
  if (globalThis.scheduler?.yield) return globalThis.scheduler.yield();
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}

/**
 * Reads a Blob front to back into the caller's buffer. Blob.stream() lets the
 * browser read ahead in its own process while we encrypt, in large pieces;
 * each piece is copied out, then wiped. (Not a BYOB reader: Chromium
 * garbage-collects a Blob stream that only a pending BYOB read refers to, and
 * that read then never settles.)
 */
class BlobReader {
  #reader;
  #held = null; // the piece being consumed
  #heldAt = 0;

  constructor(blob) {
    this.#reader = blob.stream().getReader();
  }

  /** Fill `buffer[from, to)` with the next bytes of the Blob. */
  async readInto(buffer, from, to) {
    while (from < to) {
      if (this.#held === null) {
        const { value, done } = await this.#reader.read();
        // Shorter than Blob.size said: never seal zeros in place of content.
        if (done) throw new IntakeError("payload", "the file changed while it was being read");
        this.#held = value;
        this.#heldAt = 0;
      }
      const n = Math.min(to - from, this.#held.length - this.#heldAt);
      buffer.set(this.#held.subarray(this.#heldAt, this.#heldAt + n), from);
      from += n;
      this.#heldAt += n;
      if (this.#heldAt === this.#held.length) this.#dropHeld();
    }
  }

  #dropHeld() {
    this.#held?.fill(0);
    this.#held = null;
  }

  /** Stop reading (the consumer may leave a pass early) and wipe what is held. */
  async close() {
    this.#dropHeld();
    await this.#reader.cancel().catch(() => {});
  }
}

function resolveRecipients(opts) {
  if (opts.recipients === undefined && !Array.isArray(opts.manifest?.verifiers)) {
    throw new TypeError("give a verified manifest (from verifyChain) or explicit recipients");
  }
  const list = opts.recipients ?? activeVerifiers(opts.manifest);
  if (!Array.isArray(list) || list.length < 1 || list.length > MAX_RECIPIENTS) {
    throw new RangeError(`need 1 to ${MAX_RECIPIENTS} recipients`);
  }
  return list.map((r) => requireBytes(r instanceof Uint8Array ? r : r?.x25519, "recipient x25519", 32));
}

function manifestRef(manifest) {
  const ref = manifest?.ref ?? manifest;
  if (!isInt(ref?.version) || ref.version < 1) throw new TypeError("manifest must be a verified manifest");
  requireBytes(ref.digest, "manifest digest", 32);
  return ref;
}

function checkSealOptions(opts) {
  if (!KINDS.includes(opts?.kind)) throw new RangeError(`kind must be one of ${KINDS.join(", ")}`);
  const chunk = opts.chunk ?? DEFAULT_CHUNK;
  if (!isInt(chunk) || chunk < MIN_CHUNK || chunk > MAX_CHUNK) {
    throw new RangeError(`chunk must be an integer in ${MIN_CHUNK}..${MAX_CHUNK}`);
  }
  // Version 2 stays writable for comparison (benchmarks, tests): same bytes
  // but for the payload digest, and servers accept both.
  const version = opts.version ?? ENVELOPE_VERSION;
  if (version !== 2 && version !== 3) throw new RangeError("version must be 2 or 3");
  return { kind: opts.kind, chunk, version, ref: manifestRef(opts.manifest), recipients: resolveRecipients(opts) };
}

function headerJson(version, kind, ref, recipients, streamHeader, chunk) {
  // Compact JSON in the field order the Python writer uses (readers MAC the
  // bytes as received, so the order is a convention, not a requirement).
  return utf8(
    JSON.stringify({
      v: version,
      kind,
      manifest: { version: ref.version, digest: b64encode(ref.digest) },
      recipients,
      stream: b64encode(streamHeader),
      chunk,
    }),
  );
}

/**
 * The exact size in bytes of the envelope sealing `contentLength` bytes with
 * these options (the server is told sizes before any upload starts).
 */
export function envelopeSize(contentLength, opts) {
  const { kind, chunk, version, ref, recipients } = checkSealOptions(opts);
  // The header's length does not depend on the random values in it.
  const dummy = recipients.map((pk) => ({ kid: kid(pk), sealed: b64encode(new Uint8Array(SEALED_BYTES)) }));
  const header = headerJson(version, kind, ref, dummy, new Uint8Array(STREAM_HEADER_BYTES), chunk);
  return PREFIX_FIXED + header.length + MAC_BYTES + ciphertextSize(paddedSize(contentLength), chunk);
}

/**
 * An envelope being sealed from a Blob. Nothing but about 1 MiB of plaintext
 * (what the browser reads ahead is bounded by its stream) and one output part
 * is ever held in memory; the envelope can be produced again from any
 * offset (to resume an interrupted upload), yielding exactly the same bytes,
 * because the per-envelope key, sealed recipients and stream header are fixed
 * once and the secretstream is deterministic from them.
 */
export class SealedEnvelope {
  #blob;
  #payloadKey;
  #streamHeader;
  #chunk;
  #padded;
  #digest = null;
  #digestWaiters = [];
  #onProgress;

  constructor(blob, prefix, payloadKey, streamHeader, chunk, onProgress, version = ENVELOPE_VERSION) {
    this.#blob = blob;
    this.version = version;
    this.prefix = prefix;
    this.#payloadKey = payloadKey;
    this.#streamHeader = streamHeader;
    this.#chunk = chunk;
    this.#padded = paddedSize(blob.size);
    this.contentSize = blob.size;
    this.size = prefix.length + ciphertextSize(this.#padded, chunk);
    this.#onProgress = onProgress;
    this.payloadDigest = new Promise((resolve, reject) => this.#digestWaiters.push({ resolve, reject }));
    // Nobody need await it; a failed pass rejects it, and that must not be an
    // unhandled rejection.
    this.payloadDigest.catch(() => {});
  }

  /**
   * The envelope's bytes from `offset` on, in parts of `partSize` bytes (the
   * last may be shorter): the upload's PUT bodies. Each call encrypts afresh
   * from the start (skipping output before `offset`) and computes the payload
   * digest on the way. `onProgress(sealed, size)` (and the sealBlob option
   * of that name) is called after every chunk with the envelope bytes sealed
   * so far, and the event loop gets a turn at least every 10 ms of work or
   * every chunk, whichever is longer, so a page can repaint its progress.
   */
  async *parts({ offset = 0, partSize = 1 << 20, onProgress = null } = {}) {
    if (this.#payloadKey === null) throw new TypeError("envelope was disposed");
    if (!isInt(offset) || offset < 0 || offset > this.size) throw new RangeError("offset out of range");
    if (!isInt(partSize) || partSize < 1) throw new RangeError("partSize must be a positive integer");
    if (onProgress !== null && typeof onProgress !== "function") throw new TypeError("onProgress must be a function");
    const s = sodium();
    // init_pull derives exactly the state init_push does from (key, header);
    // using it for the writer lets every pass reproduce the same ciphertext.
    const state = s.crypto_secretstream_xchacha20poly1305_init_pull(this.#streamHeader, this.#payloadKey);
    const TAG_MESSAGE = s.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
    const TAG_FINAL = s.crypto_secretstream_xchacha20poly1305_TAG_FINAL;
    const hash = s.crypto_generichash_init(null, 32);
    let hashOpen = true;
    // (v3) Each chunk's SHA-256, computed natively by WebCrypto while the
    // next chunk is encrypted; folded into the digest in order, at most
    // PENDING_HASHES behind the cipher.
    const hashList = this.version >= 3;
    const pending = [];
    let part = null;
    let fill = 0;
    let position = 0; // envelope offset of the next byte produced
    const emit = function* (bytes) {
      // Copy the bytes at or after `offset` into parts of partSize.
      let from = Math.max(0, offset - position);
      position += bytes.length;
      while (from < bytes.length) {
        if (part === null) {
          part = new Uint8Array(Math.min(partSize, this.size - (position - bytes.length + from)));
          fill = 0;
        }
        const n = Math.min(bytes.length - from, part.length - fill);
        part.set(bytes.subarray(from, from + n), fill);
        fill += n;
        from += n;
        if (fill === part.length) {
          const done = part;
          part = null;
          yield done;
        }
      }
    }.bind(this);
    // The plaintext, u64be(length) || content || zero padding, is read a
    // window of whole chunks at a time into one reused buffer.
    const windowSize = Math.max(1, Math.floor(WINDOW_BYTES / this.#chunk)) * this.#chunk;
    const plain = new Uint8Array(Math.min(windowSize, this.#padded));
    const reader = new BlobReader(this.#blob);
    const contentEnd = 8 + this.contentSize; // plaintext offset where padding starts
    let lastYield = performance.now();
    try {
      s.crypto_generichash_update(hash, hashList ? LABEL_PAYLOAD_DIGEST_V3 : LABEL_PAYLOAD_DIGEST);
      s.crypto_generichash_update(hash, this.#streamHeader);
      yield* emit(this.prefix);
      for (let start = 0; start < this.#padded; start += windowSize) {
        const end = Math.min(start + windowSize, this.#padded);
        let at = start;
        if (at < 8) {
          const upto = Math.min(8, end);
          plain.set(u64be(this.contentSize).subarray(at, upto), 0);
          at = upto;
        }
        const contentUpto = Math.min(end, contentEnd);
        if (at < contentUpto) {
          await reader.readInto(plain, at - start, contentUpto - start);
          at = contentUpto;
        }
        plain.fill(0, at - start, end - start);
        for (let from = start; from < end; from += this.#chunk) {
          const upto = Math.min(from + this.#chunk, end);
          const cipher = s.crypto_secretstream_xchacha20poly1305_push(
            state,
            plain.subarray(from - start, upto - start),
            null,
            upto === this.#padded ? TAG_FINAL : TAG_MESSAGE,
          );
          if (hashList) {
            pending.push(sha256Async(cipher));
            if (pending.length > PENDING_HASHES) s.crypto_generichash_update(hash, await pending.shift());
          } else {
            s.crypto_generichash_update(hash, cipher);
          }
          // Reported before the bytes are handed out: a consumer that waits
          // on a whole part has seen every step towards it.
          const sealedUpTo = position + cipher.length;
          this.#onProgress?.(sealedUpTo, this.size);
          onProgress?.(sealedUpTo, this.size);
          yield* emit(cipher);
          if (performance.now() - lastYield >= YIELD_EVERY_MS) {
            await yieldToEventLoop();
            lastYield = performance.now();
          }
        }
      }
      while (pending.length > 0) s.crypto_generichash_update(hash, await pending.shift());
      hashOpen = false;
      this.#settleDigest(s.crypto_generichash_final(hash, 32));
    } finally {
      for (const left of pending) left.catch(() => {}); // a pass left early: nobody awaits these
      plain.fill(0);
      await reader.close();
      // Release the hash state on the wasm heap if the consumer stopped early.
      if (hashOpen) s.crypto_generichash_final(hash, 32);
    }
  }

  #settleDigest(digest) {
    if (this.#digest === null) {
      this.#digest = digest;
      for (const w of this.#digestWaiters) w.resolve(digest);
      this.#digestWaiters = [];
    } else if (!sodium().memcmp(this.#digest, digest)) {
      // The file changed between passes: the parts already uploaded no longer
      // match. Fail loudly rather than let a corrupt envelope through.
      throw new IntakeError("payload", "the file changed while it was being sent");
    }
  }

  /** The envelope as a ReadableStream of Uint8Array parts (see parts()). */
  stream(options = {}) {
    const iterator = this.parts(options);
    return new ReadableStream({
      async pull(controller) {
        const { value, done } = await iterator.next();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      async cancel() {
        await iterator.return();
      },
    });
  }

  [Symbol.asyncIterator]() {
    return this.parts();
  }

  /** Run one pass without keeping output, to learn the payload digest early. */
  async digest() {
    if (this.#digest === null) {
      // eslint-disable-next-line no-unused-vars
      for await (const _ of this.parts({ offset: this.size })) {
        /* nothing is emitted past the end */
      }
    }
    return this.#digest;
  }

  /** Forget the payload key once the upload is done. */
  dispose() {
    if (this.#payloadKey !== null) {
      sodium().memzero(this.#payloadKey);
      this.#payloadKey = null;
    }
  }
}

/**
 * Seal a Blob or File to the active verifiers of `manifest` (or to
 * `recipients`, X25519 public keys or verifier entries), streaming it chunk by
 * chunk. Returns a SealedEnvelope: `.size` (exact, known now), `.parts()`,
 * `.stream()`, `.payloadDigest` (a Promise settled after the first full pass).
 *
 * @param {Blob} blob
 * @param {{kind: string, manifest: object, recipients?: Array, chunk?: number,
 *          onProgress?: (done: number, total: number) => void, version?: 2|3}} opts
 *   onProgress: envelope bytes sealed so far, after every chunk of every pass
 */
export function sealBlob(blob, opts) {
  if (!(blob instanceof Blob)) throw new TypeError("sealBlob needs a Blob or File");
  const { kind, chunk, version, ref, recipients } = checkSealOptions(opts);
  const s = sodium();
  const key = s.randombytes_buf(32); // a fresh key per envelope
  const { headerKey, payloadKey } = subkeys(key);
  const streamHeader = s.randombytes_buf(STREAM_HEADER_BYTES);
  const entries = recipients.map((pk) => ({ kid: kid(pk), sealed: b64encode(s.crypto_box_seal(key, pk)) }));
  s.memzero(key);
  const header = headerJson(version, kind, ref, entries, streamHeader, chunk);
  const unmaced = concat(MAGIC, u32be(header.length), header);
  const prefix = concat(unmaced, headerMac(headerKey, unmaced));
  s.memzero(headerKey);
  return new SealedEnvelope(blob, prefix, payloadKey, streamHeader, chunk, opts.onProgress, version);
}

/** Seal bytes held in memory; returns {envelope, size, payloadDigest}. */
export async function sealBytes(bytes, opts) {
  requireBytes(bytes, "bytes");
  const sealed = sealBlob(new Blob([bytes]), opts);
  const envelope = new Uint8Array(sealed.size);
  let at = 0;
  for await (const part of sealed.parts({ partSize: sealed.size || 1 })) {
    envelope.set(part, at);
    at += part.length;
  }
  const digest = await sealed.payloadDigest;
  sealed.dispose();
  return { envelope, size: sealed.size, payloadDigest: digest };
}

// ---------------------------------------------------------------- mailbox

// U+0009–U+000D, U+0020, U+0085, U+00A0, U+1680, U+2000–U+200A, U+2028,
// U+2029, U+202F, U+205F, U+3000: exactly PROTOCOL.md's list, not JavaScript's
// \s (which also has U+FEFF) nor Python's str.split() (which has U+001C–U+001F).
const CODENAME_SPACE = /[\u0009-\u000d\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/u;

/** PROTOCOL.md v2 codename normalisation: NFKC, lower-case, ё→е, fold white space. */
export function normaliseCodename(text) {
  if (typeof text !== "string") throw new TypeError("codename must be a string");
  return text
    .normalize("NFKC")
    .toLowerCase()
    .replaceAll("\u0451", "\u0435")
    .split(CODENAME_SPACE)
    .filter((word) => word.length > 0)
    .join(" ");
}

/**
 * Derive the applicant's reply key pair, mailbox token and mailbox id from
 * the codename and the genesis manifest's payload bytes.
 * Returns {replyPublic, replySecret, token, mailboxId}.
 */
export function deriveMailbox(codename, genesisPayload) {
  requireBytes(genesisPayload, "genesisPayload");
  const normal = normaliseCodename(codename);
  if (normal.length === 0) throw new RangeError("codename is empty");
  // A lone surrogate has no UTF-8 form (Python refuses to encode it; the
  // browser would silently write U+FFFD and derive a different mailbox).
  if (/\p{Cs}/u.test(normal)) throw new RangeError("codename is not valid Unicode text");
  const s = sodium();
  const salt = blake2b(32, concat(LABEL_MAILBOX_SALT, blake2b(32, genesisPayload)));
  const seed = blake2b(64, utf8(normal), salt);
  const pair = s.crypto_box_seed_keypair(seed.slice(0, 32));
  const token = seed.slice(32, 64);
  s.memzero(seed);
  return {
    replyPublic: pair.publicKey,
    replySecret: pair.privateKey,
    token,
    mailboxId: hex(blake2b(32, token)),
  };
}

/**
 * Verify and open a reply from the mailbox: the signature must be by the
 * ed25519 key of a verifier of the trusted manifest (a server cannot forge a
 * reply), then the envelope must open with the reply keys and be a reply.
 * Returns {content (bytes), message (parsed JSON), verifier, header}.
 * Throws IntakeError: bad-signature, or an envelope failure class.
 */
export function openReply(envelopeBytes, signerKid, sig, manifest, replyKeys) {
  requireBytes(envelopeBytes, "envelope");
  const signature = sig instanceof Uint8Array ? sig : b64decode(sig);
  const verifier = manifest.verifiers.find((v) => v.signKid === signerKid);
  if (verifier === undefined) throw new IntakeError("bad-signature", "reply not signed by a verifier");
  const message = concat(LABEL_REPLY, blake2b(32, envelopeBytes));
  if (!verifySignature(signature, message, verifier.ed25519)) {
    throw new IntakeError("bad-signature", "reply signature does not verify");
  }
  const opened = openEnvelope(envelopeBytes, replyKeys.replySecret, replyKeys.replyPublic ?? null);
  if (opened.header.kind !== "reply") throw new IntakeError("malformed", "not a reply");
  return {
    content: opened.content,
    message: parseJsonBytes(opened.content),
    verifier,
    header: opened.header,
  };
}
