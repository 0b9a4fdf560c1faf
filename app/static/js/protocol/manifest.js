// Manifests: parsing, the signed chain from the trust root, the anchor and the key-set fingerprint.
// Part of intake-crypto.js, the public facade: import from there, not here.

import { LABEL_KEY_SET, MANIFEST_PAYLOAD_TYPE, STATUS_BYTE, TIME_RE } from "./constants.js";
import {
  b64decode,
  b64encode,
  concat,
  fromHex,
  hasExactKeys,
  hex,
  isInt,
  isPlainObject,
  parseJsonBytes,
  u32be,
  utf8,
} from "./encoding.js";
import { blake2b, fingerprint, kid, pae, verifySignature } from "./primitives.js";
import { IntakeError, bad, sodium } from "./state.js";

/**
 * Parse an RFC 3339 UTC time (`2026-11-22T10:00:00Z`; fractional seconds
 * allowed, as toISOString writes them) into a Date, as the Python side's
 * parse_time. IntakeError("malformed") otherwise.
 */
export function parseTime(text) {
  const m = typeof text === "string" ? TIME_RE.exec(text) : null;
  if (!m) throw new IntakeError("malformed", "bad time");
  const [y, mo, d, h, mi, sec] = m.slice(1, 7).map(Number);
  const ms = Number((m[7] || "0").padEnd(3, "0").slice(0, 3));
  const date = new Date(0);
  // setUTCFullYear, unlike Date.UTC, does not map years 0-99 to 1900-1999.
  date.setUTCFullYear(y, mo - 1, d);
  date.setUTCHours(h, mi, sec, ms);
  // Refuse 2026-02-30, 24:00:00 and year 0 rather than let Date roll them over.
  if (
    y < 1 ||
    date.getUTCFullYear() !== y ||
    date.getUTCMonth() !== mo - 1 ||
    date.getUTCDate() !== d ||
    date.getUTCHours() !== h ||
    date.getUTCMinutes() !== mi ||
    date.getUTCSeconds() !== sec
  ) {
    throw new IntakeError("malformed", "bad time");
  }
  return date;
}

function key32(value, what) {
  const bytes = typeof value === "string" ? b64decode(value) : null;
  if (!bytes || bytes.length !== 32) throw bad(`${what}: need 32 bytes`);
  return bytes;
}

function label(value, what) {
  if (typeof value !== "string") throw bad(`${what}: label must be a string`);
  return value;
}

// Admin and courier lists: {kid, ed25519, label}, kid = kid(ed25519), unique.
function signingKeys(entries, what) {
  if (!Array.isArray(entries)) throw bad(`${what}: not a list`);
  const out = entries.map((entry) => {
    if (!isPlainObject(entry)) throw bad(`${what}: not an object`);
    const ed25519 = key32(entry.ed25519, what);
    // A manifest cannot name one key and list another.
    if (entry.kid !== kid(ed25519)) throw bad(`${what}: kid does not match its key`);
    return { kid: entry.kid, label: label(entry.label, what), ed25519 };
  });
  if (new Set(out.map((k) => k.kid)).size !== out.length) throw bad(`${what}: kid listed twice`);
  return out;
}

function verifierEntries(entries) {
  if (!Array.isArray(entries)) throw bad("verifiers: not a list");
  const out = entries.map((entry) => {
    if (!isPlainObject(entry)) throw bad("verifier: not an object");
    const x25519 = key32(entry.x25519, "verifier");
    const ed25519 = key32(entry.ed25519, "verifier");
    if (entry.kid !== kid(x25519)) throw bad("verifier: kid does not match its key");
    if (entry.status !== "active" && entry.status !== "retired") throw bad("verifier: bad status");
    return {
      kid: entry.kid,
      label: label(entry.label, "verifier"),
      x25519,
      ed25519,
      status: entry.status,
      signKid: kid(ed25519),
    };
  });
  if (
    new Set(out.map((v) => v.kid)).size !== out.length ||
    new Set(out.map((v) => v.signKid)).size !== out.length
  ) {
    throw bad("verifiers: key listed twice");
  }
  return out;
}

// The DSSE envelope: exactly {payloadType, payload, signatures}, each
// signature exactly {keyid, sig}. A signature that is not 64 bytes is kept as
// null: it names a key but can never verify.
function parseDsse(envelope) {
  if (!isPlainObject(envelope) || !hasExactKeys(envelope, ["payloadType", "payload", "signatures"])) {
    throw bad("DSSE: wrong fields");
  }
  if (typeof envelope.payloadType !== "string") throw bad("DSSE: bad payloadType");
  const payload = typeof envelope.payload === "string" ? b64decode(envelope.payload) : null;
  if (payload === null) throw bad("DSSE: bad payload");
  if (!Array.isArray(envelope.signatures)) throw bad("DSSE: bad signatures");
  const signatures = envelope.signatures.map((entry) => {
    if (!isPlainObject(entry) || !hasExactKeys(entry, ["keyid", "sig"])) throw bad("DSSE: bad signature");
    if (typeof entry.keyid !== "string" || typeof entry.sig !== "string") throw bad("DSSE: bad signature");
    const sig = b64decode(entry.sig);
    return { keyid: entry.keyid, sig: sig.length === 64 ? sig : null };
  });
  return { payloadType: envelope.payloadType, payload, signatures };
}

function field(data, name) {
  // A missing field is malformed (Python's KeyError), never undefined.
  if (!Object.prototype.hasOwnProperty.call(data, name)) throw bad(`manifest: no ${name}`);
  return data[name];
}

/**
 * Parse a DSSE manifest's structure (no signature check): the parsed manifest,
 * or IntakeError("malformed"). Unknown fields are ignored.
 */
export function parseManifest(envelope) {
  const { payloadType, payload, signatures } = parseDsse(envelope);
  if (payloadType !== MANIFEST_PAYLOAD_TYPE) throw bad("manifest: wrong payloadType");
  const data = parseJsonBytes(payload);
  if (!isPlainObject(data) || data.type !== "intake/manifest") throw bad("manifest: wrong type");
  const version = field(data, "version");
  if (!isInt(version) || version < 1) throw bad("manifest: bad version");
  const issued = parseTime(field(data, "issued"));
  const expires = parseTime(field(data, "expires"));
  if (!isPlainObject(field(data, "org"))) throw bad("manifest: bad org");
  const adminsDoc = field(data, "admins");
  if (!isPlainObject(adminsDoc)) throw bad("manifest: bad admins");
  const admins = signingKeys(field(adminsDoc, "keys"), "admins");
  const threshold = field(adminsDoc, "threshold");
  if (!isInt(threshold) || threshold < 1 || threshold > admins.length) {
    throw bad("manifest: threshold out of range");
  }
  const verifiers = verifierEntries(field(data, "verifiers"));
  const couriers = signingKeys(field(data, "couriers"), "couriers");
  const digest = blake2b(32, payload);
  const keySet = keySetBytes(threshold, admins, verifiers);
  return Object.freeze({
    envelope,
    payload,
    data,
    signatures,
    version,
    issued,
    expires,
    threshold,
    admins,
    verifiers,
    couriers,
    digest,
    ref: Object.freeze({ version, digest }),
    fingerprint: fingerprint(hex(blake2b(16, payload))),
    keySetBytes: keySet,
    // (v3) What applicants compare: a renewal keeps it, any change of who may
    // read or sign changes it, so a rolled-back chain cannot show the current one.
    keySetFingerprint: fingerprint(hex(blake2b(16, keySet))),
  });
}

function compareBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/**
 * (v3) The bytes of the key-set fingerprint: "intake/v3/key-set" ||
 * u32be(threshold) || u32be(n) || admin kids (16 bytes each, ascending) ||
 * u32be(m) || per verifier, ascending by kid: kid || sign kid || status byte
 * (1 active, 2 retired). Fixed-width fields, no JSON.
 */
function keySetBytes(threshold, admins, verifiers) {
  const adminKids = admins.map((a) => fromHex(a.kid)).sort(compareBytes);
  const entries = verifiers
    .map((v) => concat(fromHex(v.kid), fromHex(v.signKid), new Uint8Array([STATUS_BYTE[v.status]])))
    .sort(compareBytes);
  return concat(LABEL_KEY_SET, u32be(threshold), u32be(adminKids.length), ...adminKids, u32be(entries.length), ...entries);
}

// Too few valid signatures of `keys` is "bad-signature" if a key of that set
// signed but its signature did not verify (forged or damaged), else
// "threshold" (simply missing). Each key counts once however often it signed,
// and a signature counts only against the key its keyid names.
// Signature checks already made on a manifest, so a key in both the old and
// the new admin set is verified once (Ed25519 costs ~0.1 s without a JIT).
const checkedSignatures = new WeakMap();

function signatureValid(manifest, index, publicKey) {
  let cache = checkedSignatures.get(manifest);
  if (cache === undefined) {
    cache = new Map();
    checkedSignatures.set(manifest, cache);
  }
  const cacheKey = `${index}:${b64encode(publicKey)}`;
  if (!cache.has(cacheKey)) {
    const { sig } = manifest.signatures[index];
    const message = pae(MANIFEST_PAYLOAD_TYPE, manifest.payload);
    cache.set(cacheKey, sig !== null && verifySignature(sig, message, publicKey));
  }
  return cache.get(cacheKey);
}

function requireSigners(manifest, keys, threshold) {
  const byKid = new Map(keys.map((k) => [k.kid, k.ed25519]));
  const valid = new Set();
  const failed = new Set();
  manifest.signatures.forEach(({ keyid }, index) => {
    const publicKey = byKid.get(keyid);
    if (publicKey === undefined) return;
    if (signatureValid(manifest, index, publicKey)) valid.add(keyid);
    else failed.add(keyid);
  });
  if (valid.size < threshold) {
    const forged = [...failed].some((k) => !valid.has(k));
    throw new IntakeError(forged ? "bad-signature" : "threshold", "not enough valid signatures");
  }
}

function normaliseRoot(trustRoot) {
  const kids = trustRoot?.admins ?? trustRoot?.admin_kids;
  if (!isInt(trustRoot?.threshold) || !Array.isArray(kids)) {
    throw new TypeError("trustRoot must be {threshold, admins: [kid, ...]}");
  }
  return { threshold: trustRoot.threshold, kids: new Set(kids) };
}

function verifyGenesis(envelope, root) {
  const genesis = parseManifest(envelope);
  const kids = genesis.admins.map((a) => a.kid);
  // Genesis is trusted only because its admin set is exactly the pinned one.
  if (
    genesis.version !== 1 ||
    genesis.threshold !== root.threshold ||
    kids.length !== root.kids.size ||
    kids.some((k) => !root.kids.has(k))
  ) {
    throw new IntakeError("untrusted-root", "genesis does not match the pinned admin set");
  }
  requireSigners(genesis, genesis.admins, genesis.threshold);
  return genesis;
}

function acceptSuccessor(current, envelope) {
  const next = parseManifest(envelope);
  // An old manifest (naming a since-revoked key) cannot be replayed.
  if (next.version <= current.version) throw new IntakeError("rollback", "version not increasing");
  requireSigners(next, current.admins, current.threshold); // the admins trusted so far agree
  requireSigners(next, next.admins, next.threshold); // a rotated-in admin set consented too
  return next;
}

/**
 * (v3) A page's manifest anchor, from the JSON text of its
 * data-manifest-anchor attribute: {version, digest (32 bytes)}. Anything
 * else, a missing attribute included, is IntakeError("malformed"): a page
 * that cannot say which manifest it was built for encrypts to nothing.
 */
export function parseAnchor(text) {
  if (typeof text !== "string" || text === "") throw bad("anchor: missing");
  const data = parseJsonBytes(utf8(text));
  if (!isPlainObject(data) || !hasExactKeys(data, ["version", "digest"])) throw bad("anchor: wrong fields");
  if (!isInt(data.version) || data.version < 1) throw bad("anchor: bad version");
  const digest = typeof data.digest === "string" ? b64decode(data.digest) : null;
  if (digest === null || digest.length !== 32) throw bad("anchor: bad digest");
  return Object.freeze({ version: data.version, digest });
}

// (v3) The chain must reach the manifest the page was rendered for: a server
// serving the chain as it was before a revocation is refused here, since
// every link of the old chain is still validly signed.
function checkAnchor(trusted, anchor) {
  if (!isInt(anchor?.version) || !(anchor.digest instanceof Uint8Array)) {
    throw new TypeError("anchor must be {version, digest} (from parseAnchor)");
  }
  const link = trusted.find((m) => m.version === anchor.version);
  if (link === undefined || !sameDigest(link.digest, anchor.digest)) {
    throw new IntakeError("rollback", "the chain does not reach the manifest this page was built for");
  }
}

function sameDigest(a, b) {
  return a.length === b.length && sodium().memcmp(a, b);
}

/**
 * Walk the manifest chain (genesis first) from the pinned trust root, as
 * PROTOCOL.md's trust rule says. Returns the verified manifests, genesis
 * first; the last is the one to encrypt to. Throws IntakeError with reason
 * malformed, untrusted-root, rollback, bad-signature, threshold or expired,
 * checking link by link in that order (as the Python side does); then, given
 * an anchor (v3), rollback for a chain that does not reach it; then expired.
 *
 * @param {object[]} chain DSSE envelopes, genesis first (as GET /api/v1/manifests)
 * @param {{threshold: number, admins: string[]}} trustRoot the pinned admin set
 * @param {Date} [now]
 * @param {{version: number, digest: Uint8Array}} [anchor] the page's anchor (parseAnchor)
 */
export function verifyChain(chain, trustRoot, now = new Date(), anchor = undefined) {
  const root = normaliseRoot(trustRoot);
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw new TypeError("now must be a Date");
  if (!Array.isArray(chain) || chain.length === 0) throw bad("chain: empty");
  const trusted = [verifyGenesis(chain[0], root)];
  for (const envelope of chain.slice(1)) trusted.push(acceptSuccessor(trusted[trusted.length - 1], envelope));
  if (anchor !== undefined) checkAnchor(trusted, anchor);
  const latest = trusted[trusted.length - 1];
  // (v2) Only the latest must be fresh; older links expired in the normal course.
  if (latest.expires.getTime() <= now.getTime()) {
    throw new IntakeError("expired", "the latest manifest has expired");
  }
  return trusted;
}

/** The verifiers new messages are encrypted to. */
export function activeVerifiers(manifest) {
  return manifest.verifiers.filter((v) => v.status === "active");
}
