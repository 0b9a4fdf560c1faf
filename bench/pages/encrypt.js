// Benchmark page: raw libsodium.js secretstream against intake-crypto.js's
// sealBlob(...).parts(), on the same bytes, in the same page. libsodium is
// loaded through the real loader with the vendor files' SRI values, exactly
// as the applicant's page loads it (WebAssembly, or asm.js without it).

import * as loader from "/static/js/sodium-loader.js";
import * as IC from "/static/js/intake-crypto.js";

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
function raw() {
  const s = sodium;
  const key = s.crypto_secretstream_xchacha20poly1305_keygen();
  const started = performance.now();
  const { state } = s.crypto_secretstream_xchacha20poly1305_init_push(key);
  const TAG_MESSAGE = s.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
  const TAG_FINAL = s.crypto_secretstream_xchacha20poly1305_TAG_FINAL;
  let bytes = 0;
  for (let at = 0; at < data.length; at += CHUNK) {
    const end = Math.min(at + CHUNK, data.length);
    const cipher = s.crypto_secretstream_xchacha20poly1305_push(
      state, data.subarray(at, end), null, end === data.length ? TAG_FINAL : TAG_MESSAGE);
    bytes += cipher.length;
  }
  return { ms: performance.now() - started, bytes };
}

/**
 * Ours: seal the Blob as the page seals an attachment and drain .parts()
 * (the PUT bodies, here dropped), then await the payload digest. Runs in the
 * background; poll status().
 */
function startOurs(partSize) {
  const state = { done: false, error: null, ms: null, bytes: 0, parts: 0 };
  job = state;
  const recipient = sodium.crypto_box_keypair().publicKey;
  const started = performance.now();
  const sealed = IC.sealBlob(blob, {
    kind: "attachment",
    manifest: { version: 1, digest: new Uint8Array(32) },
    recipients: [recipient],
  });
  (async () => {
    for await (const part of sealed.parts({ partSize })) {
      state.bytes += part.length;
      state.parts += 1;
    }
    await sealed.payloadDigest;
    state.ms = performance.now() - started;
    sealed.dispose();
  })().then(
    () => { state.done = true; },
    (error) => { state.error = String(error); state.done = true; },
  );
  return sealed.size;
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

function status() {
  return job && { done: job.done, error: job.error, ms: job.ms, bytes: job.bytes, parts: job.parts };
}

window.bench = { ready: start(), makeData, raw, startOurs, status, components };
