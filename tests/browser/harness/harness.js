// Test harness: loads libsodium through the real loader (SRI values from the
// vendor manifest, as the page takes them from its data attributes) and
// exposes the crypto module to Playwright as window.harness.
//
// Query parameters:
//   tamper=a,b   replace the integrity value of these vendor files by a wrong one

import * as loader from "/static/js/sodium-loader.js";
import * as IC from "/static/js/intake-crypto.js";
import { runVectorFile } from "./vectors.js";

const violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  violations.push(`${event.violatedDirective} ${event.blockedURI}`);
});

const WRONG_SRI = "sha384-" + "A".repeat(64);

async function start() {
  const params = new URLSearchParams(location.search);
  const tampered = new Set((params.get("tamper") || "").split(",").filter(Boolean));
  const manifest = await (await fetch("/static/vendor/manifest.json")).json();
  const sri = {};
  for (const [name, entry] of Object.entries(manifest)) {
    sri[name] = tampered.has(name) ? WRONG_SRI : entry.integrity;
  }
  try {
    const sodium = await loader.loadSodium(sri);
    IC.init(sodium);
    return {
      build: loader.build,
      wasmFailure: loader.wasmFailure,
      webAssembly: typeof WebAssembly,
      sodiumVersion: sodium.sodium_version_string(),
      error: null,
    };
  } catch (error) {
    return {
      build: loader.build,
      wasmFailure: loader.wasmFailure,
      webAssembly: typeof WebAssembly,
      error: String(error && error.message ? error.message : error),
    };
  }
}

// ------------------------------------------------------------ helpers

const b64e = IC.b64encode;
const b64d = IC.b64decode;

/**
 * Deterministic test content, reproduced by tests/browser/content.py: piece k
 * (1 MiB) has byte i = ((i + (13k mod 251)) * 31 + 7) mod 251, so every piece
 * differs and a reordered, dropped or repeated chunk cannot go unnoticed.
 */
export const PIECE = 1 << 20;
function contentPiece(k, length) {
  const shift = (k * 13) % 251;
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = ((i + shift) * 31 + 7) % 251;
  return out;
}

function contentBlob(size) {
  const pieces = [];
  for (let k = 0; k * PIECE < size; k++) pieces.push(contentPiece(k, Math.min(PIECE, size - k * PIECE)));
  return new Blob(pieces, { type: "application/octet-stream" });
}

async function put(name, offset, body) {
  const response = await fetch(`/sink/${name}?offset=${offset}`, {
    method: "PUT",
    body,
    headers: { "Content-Type": "application/octet-stream" },
  });
  if (!response.ok) throw new Error(`sink answered ${response.status}`);
  return (await response.json()).offset;
}

function latestManifest(chain, trustRoot, now) {
  const manifests = IC.verifyChain(chain, trustRoot, now ? new Date(now) : new Date());
  return manifests[manifests.length - 1];
}

let job = null;

const harness = {
  ready: start(),
  violations,
  IC,

  /** What the page would announce for content of these sizes, without sealing. */
  describe(sizes, opts) {
    const manifest = latestManifest(opts.chain, opts.trustRoot, opts.now);
    return {
      envelopeSizes: sizes.map((size) => IC.envelopeSize(size, { kind: opts.kind, manifest, chunk: opts.chunk })),
      fingerprint: manifest.fingerprint,
      keySetFingerprint: manifest.keySetFingerprint,
      active: IC.activeVerifiers(manifest).map((v) => v.kid),
    };
  },

  /**
   * Seal `size` bytes of test content from an in-page Blob to the chain's
   * latest manifest and PUT it to /sink/NAME in parts. With `interruptAfter`,
   * stop after that many parts and resume from the offset the sink reports,
   * from a fresh pass (as the page does after a lost connection).
   */
  async sealToSink(name, size, opts) {
    const manifest = latestManifest(opts.chain, opts.trustRoot, opts.now);
    const blob = contentBlob(size);
    const sealOpts = { kind: opts.kind || "attachment", manifest, chunk: opts.chunk, version: opts.version };
    const expected = IC.envelopeSize(size, sealOpts);
    let progressCalls = 0;
    const sealed = IC.sealBlob(blob, { ...sealOpts, onProgress: () => progressCalls++ });
    let offset = 0;
    let parts = 0;
    const partSize = opts.partSize || 1 << 20;
    for await (const part of sealed.parts({ partSize })) {
      offset = await put(name, offset, part);
      parts++;
      if (opts.interruptAfter && parts === opts.interruptAfter) break;
    }
    if (opts.interruptAfter) {
      for await (const part of sealed.parts({ offset, partSize })) offset = await put(name, offset, part);
    }
    const digest = await sealed.payloadDigest;
    sealed.dispose();
    return {
      size: sealed.size,
      expected,
      uploaded: offset,
      payloadDigest: b64e(digest),
      progressCalls,
      build: loader.build,
    };
  },

  /** Start sealToSink in the background (for long runs polled from Python). */
  startSealToSink(name, size, opts) {
    const state = { done: false, error: null, result: null, uploaded: 0 };
    job = state;
    const manifest = latestManifest(opts.chain, opts.trustRoot, opts.now);
    const blob = contentBlob(size);
    const sealed = IC.sealBlob(blob, { kind: "attachment", manifest, chunk: opts.chunk });
    (async () => {
      let offset = 0;
      for await (const part of sealed.parts({ partSize: opts.partSize || 1 << 20 })) {
        offset = await put(name, offset, part);
        state.uploaded = offset;
      }
      state.result = { size: sealed.size, payloadDigest: b64e(await sealed.payloadDigest) };
      sealed.dispose();
    })().then(
      () => (state.done = true),
      (error) => {
        state.error = String(error);
        state.done = true;
      },
    );
    return { size: sealed.size };
  },

  /**
   * Seal `size` bytes and drain parts() in ONE part (so nothing is handed out
   * before sealing finishes), recording every progress value reported, how
   * many were reported before the part arrived, and how many animation
   * frames the page rendered meanwhile (the event loop got turns to paint).
   */
  async sealWatchingProgress(size, opts) {
    const manifest = latestManifest(opts.chain, opts.trustRoot, opts.now);
    const values = [];
    let frames = 0;
    let sealing = true;
    const frame = () => {
      frames++;
      if (sealing) requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
    const sealed = IC.sealBlob(contentBlob(size), { kind: "attachment", manifest, chunk: opts.chunk, version: opts.version });
    let beforePart = null;
    for await (const part of sealed.parts({ partSize: sealed.size, onProgress: (done) => values.push(done) })) {
      beforePart = values.length;
      if (part.length !== sealed.size) throw new Error("expected the envelope in one part");
    }
    sealing = false;
    await sealed.payloadDigest;
    sealed.dispose();
    return { values, beforePart, framesWhileSealing: frames, size: sealed.size };
  },

  /** SHA-256 of base64 bytes by the module's plain JavaScript and by WebCrypto. */
  async sha256B64(bytesB64) {
    const bytes = b64d(bytesB64);
    const native = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    return { js: b64e(IC.sha256(bytes)), native: b64e(native) };
  },

  jobStatus() {
    return job && { done: job.done, error: job.error, result: job.result, uploaded: job.uploaded };
  },

  /** Seal in memory and return the envelope as base64 (small sizes only). */
  async sealBytesB64(contentB64, opts) {
    const manifest = latestManifest(opts.chain, opts.trustRoot, opts.now);
    const out = await IC.sealBytes(b64d(contentB64), { kind: opts.kind, manifest, chunk: opts.chunk });
    return { envelope: b64e(out.envelope), payloadDigest: b64e(out.payloadDigest), size: out.size };
  },

  /** Open an envelope (base64) with an X25519 secret: {ok, reason, content, ...}. */
  openB64(envelopeB64, secretB64) {
    try {
      const opened = IC.openEnvelope(b64d(envelopeB64), b64d(secretB64));
      return {
        ok: true,
        content: b64e(opened.content),
        kind: opened.header.kind,
        payloadDigest: b64e(opened.payloadDigest),
      };
    } catch (error) {
      return { ok: false, reason: error.reason ?? `exception: ${error}` };
    }
  },

  verifyChainResult(chain, trustRoot, now, anchorText) {
    try {
      const anchor = anchorText === undefined || anchorText === null ? undefined : IC.parseAnchor(anchorText);
      const manifests = IC.verifyChain(chain, trustRoot, new Date(now), anchor);
      return {
        ok: true,
        versions: manifests.map((m) => m.version),
        keySetFingerprint: manifests[manifests.length - 1].keySetFingerprint,
      };
    } catch (error) {
      return { ok: false, reason: error.reason ?? `exception: ${error}` };
    }
  },

  mailbox(codename, genesisPayloadB64) {
    const keys = IC.deriveMailbox(codename, b64d(genesisPayloadB64));
    return {
      normalised: IC.normaliseCodename(codename),
      replyPublic: b64e(keys.replyPublic),
      replySecret: b64e(keys.replySecret),
      token: b64e(keys.token),
      mailboxId: keys.mailboxId,
    };
  },

  openReplyResult(envelopeB64, kid, sigB64, chain, trustRoot, now, codename) {
    try {
      const manifests = IC.verifyChain(chain, trustRoot, new Date(now));
      const keys = IC.deriveMailbox(codename, manifests[0].payload);
      const reply = IC.openReply(b64d(envelopeB64), kid, sigB64, manifests[manifests.length - 1], keys);
      return { ok: true, message: reply.message, verifier: reply.verifier.kid };
    } catch (error) {
      return { ok: false, reason: error.reason ?? `exception: ${error}` };
    }
  },

  runVectorFile,
};

window.harness = harness;
