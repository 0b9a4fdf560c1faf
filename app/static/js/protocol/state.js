// The one shared libsodium handle (handed over by init) and the protocol error type.
// Part of intake-crypto.js, the public facade: import from there, not here.

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

export function sodium() {
  if (S === null) throw new TypeError("intake-crypto: call init(sodium) first");
  return S;
}

export function bad(message) {
  return new IntakeError("malformed", message);
}
