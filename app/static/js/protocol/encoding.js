// Bytes and text: UTF-8, base64, hex, and the strict JSON reader the protocol's checks need.
// Part of intake-crypto.js, the public facade: import from there, not here.

import { IntakeError } from "./state.js";

export function utf8(text) {
  return new TextEncoder().encode(text);
}

// fatal: invalid UTF-8 is an error, not U+FFFD; ignoreBOM: a BOM is kept, so
// the JSON parser refuses it as Python's json does, instead of eating it.
const UTF8_STRICT = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function decodeUtf8(bytes) {
  return UTF8_STRICT.decode(bytes);
}

export function concat(...parts) {
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

export function requireBytes(value, name, length) {
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

export function fromHex(text) {
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

export function isInt(value) {
  return typeof value === "number" && Number.isSafeInteger(value);
}

export function isPlainObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value) && !(value instanceof Number);
}

export function hasExactKeys(obj, keys) {
  const own = Object.keys(obj);
  return own.length === keys.length && keys.every((k) => Object.prototype.hasOwnProperty.call(obj, k));
}

export function u32be(n) {
  return new Uint8Array([(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
}

export function u64be(n) {
  const out = new Uint8Array(8);
  const high = Math.floor(n / 2 ** 32);
  const low = n >>> 0;
  out.set(u32be(high), 0);
  out.set(u32be(low), 4);
  return out;
}

export function readU64be(bytes) {
  let n = 0;
  for (let i = 0; i < 8; i++) n = n * 256 + bytes[i];
  return n; // may exceed 2^53 and lose precision; callers only range-check it
}
