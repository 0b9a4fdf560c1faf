// Benchmark page: raw libsodium.js secretstream against intake-crypto.js's
// sealBlob(...).parts(), on the same bytes, in the same page. libsodium is
// loaded through the real loader with the vendor files' SRI values, exactly
// as the applicant's page loads it (WebAssembly, or asm.js without it).

import * as loader from "/static/js/sodium-loader.js";
import * as IC from "/static/js/intake-crypto.js";
import * as EXIF from "/static/js/exif.js";

const CHUNK = 65536; // the envelope's chunk size (PROTOCOL.md default)
let sodium = null;
let data = null;
let blob = null;
let job = null;

async function start() {
  const manifest = await (await fetch("/static/vendor/manifest.json")).json();
  const sri = {};
  for (const [name, entry] of Object.entries(manifest)) sri[name] = entry.integrity;
  try {
    sodium = await loader.loadSodium(sri);
    IC.init(sodium);
    return { build: loader.build, webAssembly: typeof WebAssembly, error: null };
  } catch (error) {
    return { build: loader.build, webAssembly: typeof WebAssembly, error: String(error) };
  }
}

/** `size` bytes of content (a random 64 KiB block repeated) as an array and as a Blob. */
function makeData(size) {
  data = new Uint8Array(size);
  const block = new Uint8Array(65536);
  crypto.getRandomValues(block);
  for (let at = 0; at < size; at += block.length) {
    data.set(block.subarray(0, Math.min(block.length, size - at)), at);
  }
  blob = new Blob([data], { type: "application/octet-stream" });
  return size;
}

/** Baseline: crypto_secretstream_xchacha20poly1305_push over the array, chunk by chunk. */
function raw(limit = Infinity) {
  const s = sodium;
  const key = s.crypto_secretstream_xchacha20poly1305_keygen();
  const length = Math.min(limit, data.length);
  const started = performance.now();
  const { state } = s.crypto_secretstream_xchacha20poly1305_init_push(key);
  const TAG_MESSAGE = s.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
  const TAG_FINAL = s.crypto_secretstream_xchacha20poly1305_TAG_FINAL;
  let bytes = 0;
  for (let at = 0; at < length; at += CHUNK) {
    const end = Math.min(at + CHUNK, length);
    const cipher = s.crypto_secretstream_xchacha20poly1305_push(
      state, data.subarray(at, end), null, end === length ? TAG_FINAL : TAG_MESSAGE);
    bytes += cipher.length;
  }
  return { ms: performance.now() - started, bytes };
}

/**
 * Ours: seal the Blob as the page seals an attachment and drain .parts()
 * (the PUT bodies, here dropped), then await the payload digest. Runs in the
 * background; poll status().
 */
function startOurs(partSize, version = IC.ENVELOPE_VERSION) {
  const state = { done: false, error: null, ms: null, bytes: 0, parts: 0 };
  job = state;
  const recipient = sodium.crypto_box_keypair().publicKey;
  const started = performance.now();
  const sealed = IC.sealBlob(blob, {
    kind: "attachment",
    manifest: { version: 1, digest: new Uint8Array(32) },
    recipients: [recipient],
    version,
  });
  inBackground(state, async () => {
    for await (const part of sealed.parts({ partSize })) {
      state.bytes += part.length;
      state.parts += 1;
    }
    await finish(state, sealed, started);
  });
  return sealed.size;
}

/** Runs `work` in the background; `state.done` (with `state.error` on a failure) says it ended. */
function inBackground(state, work) {
  work().then(
    () => { state.done = true; },
    (error) => { state.error = String(error); state.done = true; },
  );
}

/** Awaits the sealed file's payload digest, records the time since `started`, frees it. */
async function finish(state, sealed, started) {
  await sealed.payloadDigest;
  state.ms = performance.now() - started;
  sealed.dispose();
}

function nextTask() {
  // What intake-crypto.js does between chunks (yieldToEventLoop).
  if (globalThis.scheduler?.yield) return globalThis.scheduler.yield();
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => { channel.port1.close(); resolve(); };
    channel.port2.postMessage(null);
  });
}

/**
 * Where ours spends its time beyond the cipher: reading the Blob as sealBlob
 * does (one stream), a yield per chunk and the BLAKE2b payload digest, each
 * timed alone over the same bytes.
 */
async function components() {
  const chunks = Math.ceil(data.length / CHUNK);
  const out = {};
  let started = performance.now();
  const reader = blob.stream().getReader();
  for (;;) {
    const { done } = await reader.read();
    if (done) break;
  }
  out.blobStream = performance.now() - started;
  started = performance.now();
  for (let i = 0; i < chunks; i++) await nextTask();
  out.yields = performance.now() - started;
  started = performance.now();
  const hash = sodium.crypto_generichash_init(null, 32);
  for (let at = 0; at < data.length; at += CHUNK) {
    sodium.crypto_generichash_update(hash, data.subarray(at, Math.min(at + CHUNK, data.length)));
  }
  sodium.crypto_generichash_final(hash, 32);
  out.blake2b = performance.now() - started;
  out.chunks = chunks;
  return out;
}

/**
 * A phone photo of `size` bytes as the page gets it: a JPEG File whose EXIF
 * segment (camera, time, a GPS block) comes first and whose scan data has
 * every 0xFF stuffed with 0x00, as an encoder writes it.
 */
function makePhoto(size) {
  const bytes = new Uint8Array(size);
  const block = new Uint8Array(65536);
  crypto.getRandomValues(block);
  for (let at = 0; at < size; at += block.length) bytes.set(block.subarray(0, Math.min(block.length, size - at)), at);
  for (let i = 0; i < size - 1; i++) if (bytes[i] === 0xff) bytes[i + 1] = 0x00;
  const exif = new Uint8Array(4096);
  exif.set([0xff, 0xe1, 0x0f, 0xfe, 0x45, 0x78, 0x69, 0x66, 0x00, 0x00], 0); // APP1 "Exif\0\0", 4096 bytes with its marker
  bytes.set([0xff, 0xd8], 0); // SOI
  bytes.set(exif, 2);
  bytes.set([0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3f, 0x00], 2 + exif.length); // SOS
  bytes.set([0xff, 0xd9], size - 2); // EOI
  blob = new File([bytes], "IMG_0001.jpg", { type: "image/jpeg" });
  data = bytes;
  return size;
}

/**
 * The page's path for one photo: strip its hidden data (exif.js), seal the
 * result (envelope `version`), drain .parts() in 1 MiB pieces (the PUT
 * bodies, dropped) and await the payload digest. Timed piece by piece, with
 * every progress report's time (ms since the start).
 */
function startPhoto(version) {
  const state = { done: false, error: null, ms: null, stripMs: null, bytes: 0, progress: [], removed: [] };
  job = state;
  const recipient = sodium.crypto_box_keypair().publicKey;
  const started = performance.now();
  inBackground(state, async () => {
    const clean = await EXIF.stripMetadata(blob);
    state.stripMs = performance.now() - started;
    state.removed = clean.removed;
    const sealed = IC.sealBlob(clean.blob, {
      kind: "attachment",
      manifest: { version: 1, digest: new Uint8Array(32) },
      recipients: [recipient],
      version,
      onProgress: (done) => state.progress.push([performance.now() - started, done]),
    });
    for await (const part of sealed.parts({ partSize: 1 << 20 })) state.bytes += part.length;
    await finish(state, sealed, started);
  });
  return true;
}

/**
 * The payload digest's pieces alone over the same bytes, in 64 KiB chunks:
 * BLAKE2b over every byte (version 2), SHA-256 of each chunk by WebCrypto
 * (version 3), and by the module's plain JavaScript SHA-256 (version 3 where
 * WebCrypto is missing), and the cipher alone (raw secretstream push). The
 * interpreted ones run over the first `probe` bytes and are scaled up.
 */
async function digestComponents(probe) {
  const out = {};
  // The slow ones (asm.js, plain JavaScript) over the first `probe` bytes, scaled.
  const scale = data.length / Math.min(probe, data.length);
  const slow = data.subarray(0, Math.min(probe, data.length));
  let started = performance.now();
  const hash = sodium.crypto_generichash_init(null, 32);
  for (let at = 0; at < slow.length; at += CHUNK) {
    sodium.crypto_generichash_update(hash, slow.subarray(at, Math.min(at + CHUNK, slow.length)));
  }
  sodium.crypto_generichash_final(hash, 32);
  out.blake2b = (performance.now() - started) * scale;
  started = performance.now();
  const pending = [];
  for (let at = 0; at < data.length; at += CHUNK) {
    pending.push(crypto.subtle.digest("SHA-256", data.subarray(at, Math.min(at + CHUNK, data.length))));
  }
  await Promise.all(pending);
  out.sha256WebCrypto = performance.now() - started;
  started = performance.now();
  for (let at = 0; at < slow.length; at += CHUNK) IC.sha256(slow.subarray(at, Math.min(at + CHUNK, slow.length)));
  out.sha256PlainJs = (performance.now() - started) * scale;
  out.rawCipher = raw(probe).ms * scale;
  // (v4) AES-256-GCM alone, WebCrypto, over every byte in the same chunks.
  const aesKey = await crypto.subtle.importKey("raw", new Uint8Array(32), { name: "AES-GCM" }, false, ["encrypt"]);
  started = performance.now();
  for (let at = 0, i = 0; at < data.length; at += CHUNK, i++) {
    const iv = new Uint8Array(12);
    new DataView(iv.buffer).setUint32(7, i);
    await crypto.subtle.encrypt({ name: "AES-GCM", iv }, aesKey, data.subarray(at, Math.min(at + CHUNK, data.length)));
  }
  out.aesGcmWebCrypto = performance.now() - started;
  started = performance.now();
  const reader = blob.stream().getReader();
  for (;;) {
    const { done } = await reader.read();
    if (done) break;
  }
  out.blobStream = performance.now() - started;
  return out;
}

function status() {
  return job && {
    done: job.done,
    error: job.error,
    ms: job.ms,
    bytes: job.bytes,
    parts: job.parts,
    stripMs: job.stripMs,
    progress: job.progress,
    removed: job.removed,
  };
}

window.bench = {
  ready: start(),
  makeData,
  makePhoto,
  raw,
  startOurs,
  startPhoto,
  status,
  components,
  digestComponents,
};
