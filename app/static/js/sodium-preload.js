// Starts libsodium.js downloading with the page, before any module of ours
// has arrived: libsodium is most of the bytes before "ready", and on a slow
// line the page waited seconds for the modules that ask for it.
//
// Only the build this browser will run is fetched (sodium-loader.js chooses
// the same way): the ES-module WebAssembly build where WebAssembly exists,
// the classic asm.js build where it does not (Tor Browser "Safer"). Each file
// is pinned by the SRI value the page puts on this script's own
// data-vendor-sri, and sodium-loader.js uses exactly these links (or refuses
// one whose integrity differs). A classic async script, so it runs as soon as
// it arrives; it only adds <link> elements (the CSP allows no inline script).
(() => {
  "use strict";
  const script = document.currentScript;
  let sri = null;
  try {
    sri = JSON.parse(script.dataset.vendorSri);
  } catch (error) {
    return; // sodium-loader.js loads the files itself (and reports what is wrong)
  }
  const wasm = typeof WebAssembly === "object";
  // The ES-module build: the glue, our boot module, the wrappers (each
  // module's imports first, so every import resolves to a checked copy), and
  // the WebAssembly binary the boot module fetches.
  const files = wasm
    ? [
        ["libsodium.mjs", "modulepreload"],
        ["libsodium-boot.mjs", "modulepreload"],
        ["libsodium-wrappers.mjs", "modulepreload"],
        ["libsodium.wasm", "fetch"],
      ]
    : [
        ["libsodium.js", "script"],
        ["libsodium-wrappers.js", "script"],
      ];
  for (const [name, kind] of files) {
    const integrity = sri && sri[name];
    if (typeof integrity !== "string") return; // never an unpinned fetch
    const link = document.createElement("link");
    if (kind === "modulepreload") {
      link.rel = "modulepreload";
    } else {
      link.rel = "preload";
      link.as = kind;
    }
    link.href = "/static/vendor/" + name;
    link.integrity = integrity;
    link.crossOrigin = "anonymous";
    document.head.appendChild(link);
  }
})();
