// The applicant's side of the intake protocol (docs/PROTOCOL.md, version 5).
//
// Byte for byte the same as the Python `crypto` package: both pass the shared
// vectors in tests/vectors/. This is the one public entry point: pages, the
// browser test harness and the benchmarks import from here, and the modules
// under protocol/ (one concern each) import nothing outside that folder; the
// page loads libsodium through sodium-loader.js and hands it over with
// init(sodium), which protocol/state.js keeps for all of them.
//
// Failures to open or verify throw IntakeError with `.reason` set to a failure
// class of PROTOCOL.md ("malformed", "header-mac", "bad-signature", ...).
// Misuse (wrong argument types) throws TypeError or RangeError.
//
// Each module under protocol/ is served with its own SRI value (PAGE_ASSETS in
// app/pages/assets.py) and preloaded with it by the pages that load this one.

export {
  PROTOCOL_VERSION,
  ENVELOPE_VERSION,
  ENVELOPE_VERSION_AES,
  MAGIC,
  MANIFEST_PAYLOAD_TYPE,
  KINDS,
  DEFAULT_CHUNK,
} from "./protocol/constants.js";
export { IntakeError, init } from "./protocol/state.js";
export { b64encode, b64decode, hex, parseJsonBytes } from "./protocol/encoding.js";
export {
  blake2b,
  kid,
  fingerprint,
  sha256,
  padme,
  paddedSize,
  pae,
} from "./protocol/primitives.js";
export {
  parseTime,
  parseManifest,
  parseAnchor,
  verifyChain,
  activeVerifiers,
} from "./protocol/manifest.js";
export { parseHeader, payloadDigest, openEnvelope, openEnvelopeAsync } from "./protocol/envelope.js";
export { buildContent } from "./protocol/content.js";
export { envelopeSize, preferredEnvelopeVersion, SealedEnvelope, sealBlob, sealBytes } from "./protocol/seal.js";
export { normaliseCodename, deriveMailbox, openReply } from "./protocol/mailbox.js";
