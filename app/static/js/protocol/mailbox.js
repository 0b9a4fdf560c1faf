// The mailbox: codename-derived keys and opening replies.
// Part of intake-crypto.js, the public facade: import from there, not here.

import { LABEL_MAILBOX_SALT, LABEL_REPLY } from "./constants.js";
import { b64decode, concat, hex, parseJsonBytes, requireBytes, utf8 } from "./encoding.js";
import { openEnvelope } from "./envelope.js";
import { blake2b, verifySignature } from "./primitives.js";
import { IntakeError, sodium } from "./state.js";

// U+0009–U+000D, U+0020, U+0085, U+00A0, U+1680, U+2000–U+200A, U+2028,
// U+2029, U+202F, U+205F, U+3000: exactly PROTOCOL.md's list, not JavaScript's
// \s (which also has U+FEFF) nor Python's str.split() (which has U+001C–U+001F).
const CODENAME_SPACE = /[\u0009-\u000d\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/u;

/** PROTOCOL.md v2 codename normalisation: NFKC, lower-case, ё→е, fold white space. */
export function normaliseCodename(text) {
  if (typeof text !== "string") throw new TypeError("codename must be a string");
  return text
    .normalize("NFKC")
    .toLowerCase()
    .replaceAll("\u0451", "\u0435")
    .split(CODENAME_SPACE)
    .filter((word) => word.length > 0)
    .join(" ");
}

/**
 * Derive the applicant's reply key pair, mailbox token and mailbox id from
 * the codename and the genesis manifest's payload bytes.
 * Returns {replyPublic, replySecret, token, mailboxId}.
 */
export function deriveMailbox(codename, genesisPayload) {
  requireBytes(genesisPayload, "genesisPayload");
  const normal = normaliseCodename(codename);
  if (normal.length === 0) throw new RangeError("codename is empty");
  // A lone surrogate has no UTF-8 form (Python refuses to encode it; the
  // browser would silently write U+FFFD and derive a different mailbox).
  if (/\p{Cs}/u.test(normal)) throw new RangeError("codename is not valid Unicode text");
  const s = sodium();
  const salt = blake2b(32, concat(LABEL_MAILBOX_SALT, blake2b(32, genesisPayload)));
  const seed = blake2b(64, utf8(normal), salt);
  const pair = s.crypto_box_seed_keypair(seed.slice(0, 32));
  const token = seed.slice(32, 64);
  s.memzero(seed);
  return {
    replyPublic: pair.publicKey,
    replySecret: pair.privateKey,
    token,
    mailboxId: hex(blake2b(32, token)),
  };
}

/**
 * Verify and open a reply from the mailbox: the signature must be by the
 * ed25519 key of a verifier of the trusted manifest (a server cannot forge a
 * reply), then the envelope must open with the reply keys and be a reply.
 * Returns {content (bytes), message (parsed JSON), verifier, header}.
 * Throws IntakeError: bad-signature, or an envelope failure class.
 */
export function openReply(envelopeBytes, signerKid, sig, manifest, replyKeys) {
  requireBytes(envelopeBytes, "envelope");
  const signature = sig instanceof Uint8Array ? sig : b64decode(sig);
  const verifier = manifest.verifiers.find((v) => v.signKid === signerKid);
  if (verifier === undefined) throw new IntakeError("bad-signature", "reply not signed by a verifier");
  const message = concat(LABEL_REPLY, blake2b(32, envelopeBytes));
  if (!verifySignature(signature, message, verifier.ed25519)) {
    throw new IntakeError("bad-signature", "reply signature does not verify");
  }
  const opened = openEnvelope(envelopeBytes, replyKeys.replySecret, replyKeys.replyPublic ?? null);
  if (opened.header.kind !== "reply") throw new IntakeError("malformed", "not a reply");
  return {
    content: opened.content,
    message: parseJsonBytes(opened.content),
    verifier,
    header: opened.header,
  };
}
