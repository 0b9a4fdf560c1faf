// buildContent: the JSON document a submission or follow-up encrypts.
// Part of intake-crypto.js, the public facade: import from there, not here.

import { TIME_RE } from "./constants.js";
import { b64decode, b64encode, isInt, isPlainObject, utf8 } from "./encoding.js";

const CONTENT_VERSION = 2;
const HEX32_RE = /^[0-9a-f]{32}$/;
const HEX64_RE = /^[0-9a-f]{64}$/;

function contentFail(message) {
  return new TypeError(`content: ${message}`);
}

function nonEmptyString(value, what) {
  if (typeof value !== "string" || !value) throw contentFail(`${what} must be a non-empty string`);
  return value;
}

// A 32-byte value as the content carries it: standard base64.
function base64Key(value, what) {
  let bytes = value instanceof Uint8Array ? value : null;
  if (!bytes) {
    try {
      bytes = b64decode(value);
    } catch {
      // reported below
    }
  }
  if (!bytes || bytes.length !== 32) throw contentFail(`${what} must be 32 bytes or their base64`);
  return typeof value === "string" ? value : b64encode(bytes);
}

function contentAnswers(answers) {
  if (!isPlainObject(answers)) throw contentFail("answers must be an object");
  for (const [name, value] of Object.entries(answers)) {
    nonEmptyString(name, "an answer's field id");
    const ok = typeof value === "string" || (Array.isArray(value) && value.every((v) => typeof v === "string"));
    if (!ok) throw contentFail(`answer ${name} must be a string or a list of strings`);
  }
  return answers;
}

function contentAttachments(attachments) {
  if (!Array.isArray(attachments)) throw contentFail("attachments must be a list");
  const seen = new Set();
  return attachments.map(({ id, name, type, size, digest }) => {
    if (typeof id !== "string" || !HEX32_RE.test(id)) throw contentFail("an attachment id must be 32 lowercase hex");
    if (seen.has(id)) throw contentFail(`attachment ${id} is named twice`);
    seen.add(id);
    if (typeof name !== "string") throw contentFail(`attachment ${id}: name must be a string`);
    if (!isInt(size) || size < 0) throw contentFail(`attachment ${id}: size must be a whole number of bytes`);
    return {
      id,
      name,
      type: type || "application/octet-stream",
      size,
      digest: base64Key(digest, `attachment ${id}: digest`),
    };
  });
}

/**
 * The one encoder of the submission and follow-up content (PROTOCOL.md
 * "Submission content", version 2), as the UTF-8 bytes to seal, so the
 * intake and mailbox pages cannot drift apart. `attachments` are
 * `{id, name, type, size, digest}` (digest: the payload digest, 32 bytes or
 * their base64; an empty type becomes application/octet-stream); `reply` is
 * `{x25519, mailbox}` or null when he declined a mailbox; `sent` is a Date,
 * written to the second. A digest's base64 has one length whatever its
 * value, so the size is known before the attachments are sealed. Throws
 * TypeError on input the protocol does not allow (a page's bug, never sent).
 */
export function buildContent({ lang, form, answers, attachments, reply = null, sent = new Date() }) {
  if (!isPlainObject(form) || !isInt(form.version) || form.version < 1) {
    throw contentFail("form must be {id, version} with a positive integer version");
  }
  if (!(sent instanceof Date) || Number.isNaN(sent.getTime())) throw contentFail("sent must be a valid Date");
  const content = {
    v: CONTENT_VERSION,
    lang: nonEmptyString(lang, "lang"),
    form: { id: nonEmptyString(form.id, "form id"), version: form.version },
    answers: contentAnswers(answers),
    attachments: contentAttachments(attachments),
  };
  if (reply !== null) {
    if (typeof reply?.mailbox !== "string" || !HEX64_RE.test(reply.mailbox)) {
      throw contentFail("reply mailbox must be 64 lowercase hex");
    }
    content.reply = { x25519: base64Key(reply.x25519, "reply x25519"), mailbox: reply.mailbox };
  }
  // The applicant's clock to the second: PROTOCOL.md's time, no milliseconds.
  content.sent = sent.toISOString().replace(/\.\d{3}Z$/, "Z");
  if (!TIME_RE.test(content.sent)) throw contentFail("sent is outside the years 0001-9999");
  return utf8(JSON.stringify(content));
}
