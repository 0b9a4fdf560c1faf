// libsodium's WebAssembly as a binary file, fetched under its SRI value.
//
// scripts/vendor_assets.py copies this file to app/static/vendor/ with the
// value of libsodium.wasm written in below, and points libsodium-wrappers.mjs
// at it instead of at libsodium.mjs. The page pins this file by SRI, and this
// file pins libsodium.wasm: nothing unchecked runs.
//
// Why: libsodium.mjs carried the module as base64, a third more bytes even
// compressed, on the slowest part of an applicant's load (docs/PERFORMANCE.md,
// time to ready). emscripten's glue takes an `instantiateWasm` option for
// exactly this; the glue itself no longer holds the module.

import factory from "./libsodium.mjs";

const WASM = new URL("./libsodium.wasm", import.meta.url);
const INTEGRITY = "@WASM_INTEGRITY@";

/** The emscripten module factory, with the module fetched and checked here. */
export default function boot(options = {}) {
  let fail;
  const failed = new Promise((_, reject) => {
    fail = reject;
  });
  const ready = factory({
    ...options,
    instantiateWasm(imports, done) {
      // Same request as the page's <link rel="preload" as="fetch" integrity
      // crossorigin="anonymous">, so the preloaded response is the one used.
      fetch(WASM, { integrity: INTEGRITY, credentials: "same-origin" })
        .then((response) => {
          if (!response.ok) throw new Error(`libsodium.wasm: HTTP ${response.status}`);
          return response.arrayBuffer();
        })
        .then((bytes) => WebAssembly.instantiate(bytes, imports))
        .then(({ instance, module }) => done(instance, module))
        .catch((error) => fail(error));
      return {}; // the exports arrive through done()
    },
  });
  // The glue waits for done() and has no way to hear of a failure: a
  // refused or missing module rejects here instead of hanging the page.
  return Promise.race([ready, failed]);
}
