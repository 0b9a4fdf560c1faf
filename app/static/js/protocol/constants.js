// Protocol constants: versions, reader bounds and domain-separation labels.
// Part of intake-crypto.js, the public facade: import from there, not here.

import { utf8 } from "./encoding.js";

export const PROTOCOL_VERSION = 5;
// Envelope version 3 changed only the payload digest (a BLAKE2b over each
// chunk's SHA-256, which WebCrypto computes natively even without a JIT or
// WebAssembly); readers still open "v": 1 and 2. Writers produce 3, or 4
// where WebAssembly is missing (Tor Browser "Safer") and WebCrypto present:
// version 4's payload is AES-256-GCM, which WebCrypto runs natively where
// libsodium's secretstream runs as interpreted asm.js (PROTOCOL.md, version 5).
export const ENVELOPE_VERSION = 3;
export const ENVELOPE_VERSION_AES = 4;
export const READ_VERSIONS = Object.freeze([1, 2, 3, 4]);
export const MAGIC = new Uint8Array([0x49, 0x4e, 0x54, 0x41, 0x4b, 0x45, 0x76, 0x31]); // "INTAKEv1"
export const MANIFEST_PAYLOAD_TYPE = "application/vnd.intake.manifest+json";
export const KINDS = Object.freeze(["submission", "attachment", "followup", "reply"]);
export const DEFAULT_CHUNK = 65536;

// Bounds every reader enforces before doing any work (v2): a hostile header
// must not make us allocate without bound.
export const MAX_HEADER_LEN = 65536;
export const MIN_CHUNK = 4096;
export const MAX_CHUNK = 1048576;
export const MAX_RECIPIENTS = 64;
export const MIN_PADDED = 4096;
export const ABYTES = 17; // secretstream per-chunk overhead
export const GCM_ABYTES = 16; // AES-GCM per-chunk overhead (v4)
export const GCM_NONCE_PREFIX = 7; // bytes of the stream header in each v4 nonce
export const MAC_BYTES = 32;
export const PREFIX_FIXED = 8 + 4; // magic + header_len
export const SEALED_BYTES = 80; // crypto_box_seal of a 32-byte key
export const STREAM_HEADER_BYTES = 24;
export const KID_RE = /^[0-9a-f]{32}$/;

export const LABEL_HEADER_MAC = utf8("intake/v1/header-mac");
export const LABEL_PAYLOAD = utf8("intake/v1/payload");
export const LABEL_PAYLOAD_DIGEST = utf8("intake/v2/payload-digest");
export const LABEL_PAYLOAD_DIGEST_V3 = utf8("intake/v3/payload-digest");
export const LABEL_PAYLOAD_V4 = utf8("intake/v4/payload");
export const LABEL_PAYLOAD_DIGEST_V4 = utf8("intake/v4/payload-digest");
export const LABEL_MAILBOX_SALT = utf8("intake/v1/mailbox-salt");
export const LABEL_REPLY = utf8("intake/v1/reply");
export const LABEL_KEY_SET = utf8("intake/v3/key-set");
export const STATUS_BYTE = { active: 1, retired: 2 };

export const TIME_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z$/;
