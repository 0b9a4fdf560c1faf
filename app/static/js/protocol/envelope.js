// Envelopes: header parsing, the payload digest, and opening.
// Part of intake-crypto.js, the public facade: import from there, not here.

import {
  ABYTES,
  GCM_ABYTES,
  KID_RE,
  KINDS,
  LABEL_HEADER_MAC,
  LABEL_PAYLOAD,
  LABEL_PAYLOAD_DIGEST,
  LABEL_PAYLOAD_DIGEST_V3,
  LABEL_PAYLOAD_DIGEST_V4,
  LABEL_PAYLOAD_V4,
  MAC_BYTES,
  MAGIC,
  MAX_CHUNK,
  MAX_HEADER_LEN,
  MAX_RECIPIENTS,
  MIN_CHUNK,
  PREFIX_FIXED,
  READ_VERSIONS,
  SEALED_BYTES,
  STREAM_HEADER_BYTES,
} from "./constants.js";
import {
  b64decode,
  concat,
  hasExactKeys,
  isInt,
  isPlainObject,
  parseJsonBytes,
  readU64be,
  requireBytes,
} from "./encoding.js";
import { blake2b, chunkOverhead, gcmNonce, importAesKey, kid, paddedSize, sha256, webCryptoAesGcm } from "./primitives.js";
import { IntakeError, bad, sodium } from "./state.js";

/** The header-MAC key and the payload key (v4, AES-GCM: a label of its own). */
export function subkeys(key, version) {
  return {
    headerKey: blake2b(32, LABEL_HEADER_MAC, key),
    payloadKey: blake2b(32, version >= 4 ? LABEL_PAYLOAD_V4 : LABEL_PAYLOAD, key),
  };
}

export function headerMac(headerKey, prefixWithoutMac) {
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
 * SHA-256(c_n)), c_i the payload's chunks of chunk + 17 bytes (the last shorter);
 * for "v": 4, the same under "intake/v4/payload-digest", chunks of chunk + 16.
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
    s.crypto_generichash_update(state, header.v >= 4 ? LABEL_PAYLOAD_DIGEST_V4 : LABEL_PAYLOAD_DIGEST_V3);
    s.crypto_generichash_update(state, header.streamHeader);
    const step = header.chunk + chunkOverhead(header.v);
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
 *   trailing-data or padding (checked in that order, as the Python side);
 *   a version-4 envelope (AES-GCM, which only WebCrypto runs here, and
 *   asynchronously) throws TypeError once its key is found: use openEnvelopeAsync
 */
export function openEnvelope(bytes, x25519Secret, x25519Public = null) {
  const { header, payloadKey, index } = unlock(bytes, x25519Secret, x25519Public);
  const s = sodium();
  let plain;
  try {
    if (header.v >= 4) throw new TypeError("a version-4 envelope opens with openEnvelopeAsync");
    plain = decryptPayload(bytes.subarray(header.payloadStart), header, payloadKey);
  } finally {
    s.memzero(payloadKey);
  }
  const content = unpad(plain);
  s.memzero(plain);
  return { header, content, payloadDigest: payloadDigest(bytes), openedBy: index };
}

/**
 * openEnvelope for every version, version 4 (AES-256-GCM) included, which it
 * decrypts with WebCrypto (a secure context: IntakeError is not thrown for
 * its absence, TypeError is). Same checks, same order, same failure classes.
 */
export async function openEnvelopeAsync(bytes, x25519Secret, x25519Public = null) {
  const { header, payloadKey, index } = unlock(bytes, x25519Secret, x25519Public);
  const s = sodium();
  let plain;
  try {
    plain = header.v >= 4
      ? await decryptPayloadGcm(bytes.subarray(header.payloadStart), header, payloadKey)
      : decryptPayload(bytes.subarray(header.payloadStart), header, payloadKey);
  } finally {
    s.memzero(payloadKey);
  }
  const content = unpad(plain);
  s.memzero(plain);
  return { header, content, payloadDigest: payloadDigest(bytes), openedBy: index };
}

// The prefix parsed, K recovered and the payload key of the header's version
// derived (K wiped): the checks before the payload, in the order of PROTOCOL.md.
function unlock(bytes, x25519Secret, x25519Public) {
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
  const { headerKey, payloadKey } = subkeys(key, header.v);
  s.memzero(headerKey);
  s.memzero(key);
  return { header, payloadKey, index };
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
  }
  if (!final) throw new IntakeError("truncated", "the stream ends before its final chunk");
  return concat(...pieces);
}

// Version 4: AES-256-GCM chunks (chunk + 16 bytes) under nonces
// stream[0:7] || u32be(i) || final. A piece authenticates as a non-final
// chunk, as the final one, or not at all: the classes of secretstream's tags.
async function decryptPayloadGcm(payload, header, payloadKey) {
  const subtle = webCryptoAesGcm();
  if (subtle === null) throw new TypeError("version-4 envelopes need WebCrypto (a secure context)");
  const aesKey = await importAesKey(payloadKey, "decrypt");
  const pieces = [];
  let at = 0;
  let index = 0;
  let final = false;
  try {
    while (at < payload.length) {
      if (final) throw new IntakeError("trailing-data", "bytes after the final chunk");
      const piece = payload.subarray(at, Math.min(at + header.chunk + GCM_ABYTES, payload.length));
      at += piece.length;
      let message = null;
      if (piece.length > GCM_ABYTES && index < 2 ** 32) {
        for (const asFinal of [false, true]) {
          try {
            const iv = gcmNonce(header.streamHeader, index, asFinal);
            message = new Uint8Array(await subtle.decrypt({ name: "AES-GCM", iv, tagLength: 128 }, aesKey, piece));
            final = asFinal;
            break;
          } catch {
            message = null; // does not authenticate under this nonce
          }
        }
      }
      if (message === null) throw new IntakeError("payload", "a chunk does not authenticate");
      if (final && message.length === 0) throw new IntakeError("payload", "empty final chunk");
      index += 1;
      pieces.push(message);
    }
    if (!final) throw new IntakeError("truncated", "the stream ends before its final chunk");
  } catch (error) {
    for (const p of pieces) p.fill(0);
    throw error;
  }
  const plain = concat(...pieces);
  for (const p of pieces) p.fill(0);
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
