// Loads libsodium.js from our own origin, every file pinned by Subresource Integrity.
//
// Why two builds: most browsers run libsodium's WebAssembly build (fast,
// about 75 KB br with its glue and wrappers, cut to the functions the pages
// call: scripts/trim_libsodium.py). Tor Browser at its "Safer" level, and
// other hardened browsers, have no WebAssembly; they get the classic-script
// build whose libsodium.js carries an asm.js backup module (plain JavaScript,
// no eval, so it runs under `script-src 'self'` without 'unsafe-eval'). We
// vendor it without its WebAssembly module, which such a browser cannot run:
// where the classic build is the fallback of a browser that has WebAssembly
// (a CSP without 'wasm-unsafe-eval', a refused file), its asm.js runs too.
//
// Why the integrity values come from the page: the page is the one document
// the applicant has to trust; it names the exact bytes of every script it
// runs, so a tampered file on the server's disk or on the path is refused by
// the browser rather than run. The loader refuses to load any file whose SRI
// value it was not given (fail closed).

const VENDOR = "/static/vendor/";

/**
 * Which code runs libsodium: "wasm" (WebAssembly, the ES module build) or
 * "asmjs" (the classic build's asm.js backup); null before loadSodium() resolves.
 */
export let build = null;

/** Why the WebAssembly build was not used, when it was present but failed (or null). */
export let wasmFailure = null;

let pending = null;
let usedBackup = false;

/** A loading failure: which file, and why (never anything secret). */
export class SodiumLoadError extends Error {
  constructor(message) {
    super(message);
    this.name = "SodiumLoadError";
  }
}

function integrityFor(sri, name) {
  const value = sri && sri[name];
  if (typeof value !== "string" || !/^sha(256|384|512)-[A-Za-z0-9+/]+={0,2}$/.test(value)) {
    // Loading an unpinned script would defeat the whole point of SRI.
    throw new SodiumLoadError(`no integrity value for ${name}`);
  }
  return value;
}

function whenLoaded(element, name) {
  return new Promise((resolve, reject) => {
    element.addEventListener("load", () => resolve(), { once: true });
    element.addEventListener(
      "error",
      () => reject(new SodiumLoadError(`${name} failed to load or failed its integrity check`)),
      { once: true },
    );
  });
}

// A module is integrity-checked only when it enters the module map through a
// <link rel="modulepreload" integrity=...>; a later import() of the same URL
// reuses that checked module. The page's sodium-preload.js adds these links as
// the page loads (so libsodium downloads while our modules do); a link already
// there is used as it is, and one with another integrity value is refused.
// Without them we add them here, one at a time, each before what imports it
// (libsodium.mjs, libsodium-boot.mjs, the wrappers), so every import can only
// resolve to a checked copy.
async function preloadModule(name, integrity) {
  const href = new URL(VENDOR + name, document.baseURI).href;
  for (const link of document.querySelectorAll('link[rel="modulepreload"]')) {
    if (link.href === href) {
      if (link.integrity !== integrity) {
        throw new SodiumLoadError(`modulepreload for ${name} carries a different integrity value`);
      }
      return;
    }
  }
  const link = vendorLink("modulepreload", href, integrity);
  const done = whenLoaded(link, name);
  document.head.appendChild(link);
  await done;
}

// The WebAssembly binary downloads while the modules do; libsodium-boot.mjs
// fetches it under the SRI value written into it, and the browser hands it
// this preloaded response when both integrity values agree (a wrong one here
// only costs a second download: the fetch checks its own).
function preloadBinary(name, integrity) {
  const href = new URL(VENDOR + name, document.baseURI).href;
  for (const link of document.querySelectorAll('link[rel="preload"]')) {
    if (link.href === href) return; // sodium-preload.js started it
  }
  const link = vendorLink("preload", href, integrity);
  link.as = "fetch";
  document.head.appendChild(link);
}

/** A <link> for one vendored file, pinned by its SRI value. */
function vendorLink(rel, href, integrity) {
  const link = document.createElement("link");
  link.rel = rel;
  link.href = href;
  link.integrity = integrity;
  link.crossOrigin = "anonymous";
  return link;
}

async function loadWasm(sri) {
  const core = integrityFor(sri, "libsodium.mjs");
  const boot = integrityFor(sri, "libsodium-boot.mjs");
  const wrappers = integrityFor(sri, "libsodium-wrappers.mjs");
  preloadBinary("libsodium.wasm", integrityFor(sri, "libsodium.wasm"));
  await preloadModule("libsodium.mjs", core);
  await preloadModule("libsodium-boot.mjs", boot);
  await preloadModule("libsodium-wrappers.mjs", wrappers);
  const module = await import(VENDOR + "libsodium-wrappers.mjs");
  const sodium = module.default;
  await sodium.ready;
  return sodium;
}

function injectScript(name, integrity) {
  const script = document.createElement("script");
  script.src = VENDOR + name;
  script.integrity = integrity;
  script.crossOrigin = "anonymous";
  script.async = false;
  const done = whenLoaded(script, name);
  document.head.appendChild(script);
  return done;
}

// libsodium.js, when WebAssembly is missing, fails its (emptied) WebAssembly
// attempt with an unhandled ReferenceError from inside its own code before
// switching to the asm.js backup. That error is expected and harmless: keep it out of
// the console so real errors stand out.
function quietExpectedWasmError(event) {
  const reason = event.reason;
  if (typeof WebAssembly === "undefined" && reason instanceof ReferenceError && /WebAssembly/.test(reason.message)) {
    event.preventDefault();
  }
}

async function loadAsmJs(sri) {
  const core = integrityFor(sri, "libsodium.js");
  const wrappers = integrityFor(sri, "libsodium-wrappers.js");
  globalThis.addEventListener("unhandledrejection", quietExpectedWasmError);
  try {
    await injectScript("libsodium.js", core);
    const lib = globalThis.libsodium;
    if (!lib || typeof lib !== "object") throw new SodiumLoadError("libsodium.js did not define window.libsodium");
    // When the asm.js backup finishes initialising, libsodium.js replaces every
    // property of its module object, `ready` included; that can happen before
    // the wrappers script runs. A module without `ready` is one whose backup
    // has already initialised (a failed one keeps its rejected `ready`).
    if (typeof lib.ready?.then !== "function") lib.ready = Promise.resolve();
    await injectScript("libsodium-wrappers.js", wrappers);
    const sodium = globalThis.sodium;
    if (!sodium || typeof sodium.ready?.then !== "function") {
      throw new SodiumLoadError("libsodium-wrappers.js did not define window.sodium");
    }
    await sodium.ready;
    // The classic build tries its own (emptied) WebAssembly first and keeps
    // useBackupModule only while that main module is the one in use.
    usedBackup = typeof lib.useBackupModule !== "function";
    return sodium;
  } finally {
    // Let the event loop drain libsodium's own rejection before we stop quieting it.
    await new Promise((resolve) => setTimeout(resolve, 0));
    globalThis.removeEventListener("unhandledrejection", quietExpectedWasmError);
  }
}

/**
 * Load libsodium once and return the ready sodium object.
 *
 * @param {Object<string,string>} sri vendor file name ("libsodium.mjs", ...) to its
 *   SRI value ("sha384-..."), as the page carries them in data attributes.
 * @returns {Promise<object>} the libsodium-wrappers object, ready to use.
 */
export function loadSodium(sri) {
  if (pending === null) {
    pending = (async () => {
      if (typeof WebAssembly === "object") {
        try {
          const sodium = await loadWasm(sri);
          build = "wasm";
          return sodium;
        } catch (error) {
          // WebAssembly exists but cannot run here (a CSP without
          // 'wasm-unsafe-eval', a locked-down engine): the asm.js build still
          // works. Integrity failures land here too; the classic files are
          // pinned as well, so falling back never runs an unchecked byte.
          wasmFailure = String(error && error.message ? error.message : error);
        }
      }
      const sodium = await loadAsmJs(sri);
      build = usedBackup ? "asmjs" : "wasm";
      return sodium;
    })();
    // A failed load may be retried (say, after a network error).
    pending.catch(() => {
      pending = null;
    });
  }
  return pending;
}
