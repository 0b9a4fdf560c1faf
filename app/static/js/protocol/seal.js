// Sealing: streaming a Blob or bytes into an envelope.
// Part of intake-crypto.js, the public facade: import from there, not here.

import {
  DEFAULT_CHUNK,
  ENVELOPE_VERSION,
  ENVELOPE_VERSION_AES,
  KINDS,
  LABEL_PAYLOAD_DIGEST,
  LABEL_PAYLOAD_DIGEST_V3,
  LABEL_PAYLOAD_DIGEST_V4,
  MAC_BYTES,
  MAGIC,
  MAX_CHUNK,
  MAX_RECIPIENTS,
  MIN_CHUNK,
  PREFIX_FIXED,
  SEALED_BYTES,
  STREAM_HEADER_BYTES,
} from "./constants.js";
import { b64encode, concat, isInt, requireBytes, u32be, u64be, utf8 } from "./encoding.js";
import { headerMac, payloadDigest, subkeys } from "./envelope.js";
import { activeVerifiers } from "./manifest.js";
import {
  ciphertextSize,
  gcmNonce,
  importAesKey,
  kid,
  paddedSize,
  sha256Async,
  webCryptoAesGcm,
} from "./primitives.js";
import { IntakeError, sodium } from "./state.js";

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

/**
 * The envelope version this browser writes: 4 (AES-256-GCM, native WebCrypto)
 * where WebAssembly is missing (Tor Browser "Safer": libsodium runs as asm.js
 * in the interpreter, 3.7 s/MiB for secretstream on a throttled phone) and
 * WebCrypto is present (a secure context); 3 everywhere else. Opening a v4
 * envelope needs a verifier laptop with AES instructions, so v4 is written
 * only where it is what makes sealing bearable (PROTOCOL.md, version 5).
 */
export function preferredEnvelopeVersion() {
  return typeof WebAssembly === "undefined" && webCryptoAesGcm() !== null ? ENVELOPE_VERSION_AES : ENVELOPE_VERSION;
}

function checkSealOptions(opts) {
  if (!KINDS.includes(opts?.kind)) throw new RangeError(`kind must be one of ${KINDS.join(", ")}`);
  const chunk = opts.chunk ?? DEFAULT_CHUNK;
  if (!isInt(chunk) || chunk < MIN_CHUNK || chunk > MAX_CHUNK) {
    throw new RangeError(`chunk must be an integer in ${MIN_CHUNK}..${MAX_CHUNK}`);
  }
  // Version 2 stays writable for comparison (benchmarks, tests): same bytes
  // but for the payload digest, and servers accept it. Version 4 needs WebCrypto.
  const version = opts.version ?? preferredEnvelopeVersion();
  if (version !== 2 && version !== 3 && version !== 4) throw new RangeError("version must be 2, 3 or 4");
  if (version === 4 && webCryptoAesGcm() === null) {
    throw new TypeError("version-4 envelopes need WebCrypto (a secure context)");
  }
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
  return PREFIX_FIXED + header.length + MAC_BYTES + ciphertextSize(paddedSize(contentLength), chunk, version);
}

/**
 * An envelope being sealed from a Blob. Nothing but about 1 MiB of plaintext
 * (what the browser reads ahead is bounded by its stream) and one output part
 * is ever held in memory; the envelope can be produced again from any
 * offset (to resume an interrupted upload), yielding exactly the same bytes,
 * because the per-envelope key, sealed recipients and stream header are fixed
 * once and the secretstream (v4: AES-GCM under counter nonces) is
 * deterministic from them.
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
    this.size = prefix.length + ciphertextSize(this.#padded, chunk, version);
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
    // (v4) AES-256-GCM in WebCrypto, native code even without a JIT: chunk i
    // under the nonce stream[0:7] || u32be(i) || final, no additional data.
    const gcm = this.version >= 4;
    const subtle = gcm ? webCryptoAesGcm() : null;
    const aesKey = gcm ? await importAesKey(this.#payloadKey, "encrypt") : null;
    let chunkIndex = 0;
    // init_pull derives exactly the state init_push does from (key, header);
    // using it for the writer lets every pass reproduce the same ciphertext.
    const state = gcm ? null : s.crypto_secretstream_xchacha20poly1305_init_pull(this.#streamHeader, this.#payloadKey);
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
      const label = gcm ? LABEL_PAYLOAD_DIGEST_V4 : hashList ? LABEL_PAYLOAD_DIGEST_V3 : LABEL_PAYLOAD_DIGEST;
      s.crypto_generichash_update(hash, label);
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
          const final = upto === this.#padded;
          // encrypt() copies its input at the call, so `plain` may be reused.
          const cipher = gcm
            ? new Uint8Array(
                await subtle.encrypt(
                  { name: "AES-GCM", iv: gcmNonce(this.#streamHeader, chunkIndex++, final), tagLength: 128 },
                  aesKey,
                  plain.subarray(from - start, upto - start),
                ),
              )
            : s.crypto_secretstream_xchacha20poly1305_push(
                state,
                plain.subarray(from - start, upto - start),
                null,
                final ? TAG_FINAL : TAG_MESSAGE,
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
 *          onProgress?: (done: number, total: number) => void, version?: 2|3|4}} opts
 *   version: by default preferredEnvelopeVersion() (4 only without WebAssembly)
 *   onProgress: envelope bytes sealed so far, after every chunk of every pass
 */
export function sealBlob(blob, opts) {
  if (!(blob instanceof Blob)) throw new TypeError("sealBlob needs a Blob or File");
  const { kind, chunk, version, ref, recipients } = checkSealOptions(opts);
  const s = sodium();
  const key = s.randombytes_buf(32); // a fresh key per envelope
  const { headerKey, payloadKey } = subkeys(key, version);
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
