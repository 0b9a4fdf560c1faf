// Runs every vector of one tests/vectors/*.json file in the page and reports
// one result per vector ({name, expect, got, detail}), so a failure names the
// vector. "got" is "ok" or the IntakeError reason; anything else (a crash, a
// wrong content) is reported as such and fails the test.

import * as IC from "/static/js/intake-crypto.js";

const b64d = IC.b64decode;
const b64e = IC.b64encode;

function reasonOf(error) {
  return error instanceof IC.IntakeError ? error.reason : `exception: ${error && error.stack ? error.stack : error}`;
}

function sameBytes(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

async function fetchJson(name) {
  const response = await fetch(`/vectors/${name}`);
  if (!response.ok) throw new Error(`/vectors/${name}: ${response.status}`);
  return response.json();
}

async function envelopes(doc) {
  const keys = await fetchJson("keys.json");
  const byLabel = new Map(keys.identities.map((i) => [i.label, i]));
  const results = [];
  for (const v of doc.vectors) {
    // Only identities with an X25519 key can open anything (admins have none).
    const ring = v.keyring
      .map((label) => byLabel.get(label))
      .filter((i) => i.x25519_secret)
      .map((i) => ({ secret: b64d(i.x25519_secret), public: b64d(i.x25519) }));
    let got;
    let detail = null;
    try {
      // Version 4 (AES-GCM) opens only asynchronously (WebCrypto); the others
      // through the synchronous openEnvelope the mailbox page uses.
      let v4 = false;
      try {
        v4 = IC.parseHeader(b64d(v.envelope)).v === 4;
      } catch {
        v4 = false;
      }
      const opened = v4 ? await IC.openEnvelopeAsync(b64d(v.envelope), ring) : IC.openEnvelope(b64d(v.envelope), ring);
      got = "ok";
      if (!sameBytes(opened.content, b64d(v.content))) {
        got = "content-differs";
      } else if (b64e(opened.payloadDigest) !== v.payload_digest) {
        got = "payload-digest-differs";
      } else if (opened.header.kind !== v.kind) {
        got = "kind-differs";
      } else if (JSON.stringify(opened.header.recipients.map((r) => r.kid)) !== JSON.stringify(v.recipients)) {
        got = "recipients-differ";
      }
    } catch (error) {
      got = reasonOf(error);
    }
    // Where the header parses, the key-free checks agree with Python's too.
    if (v.kind !== null) {
      try {
        const header = IC.parseHeader(b64d(v.envelope));
        if (header.kind !== v.kind) detail = "parseHeader kind differs";
      } catch (error) {
        detail = `parseHeader failed: ${reasonOf(error)}`;
      }
    }
    results.push({ name: v.name, expect: v.expect, got, detail });
  }
  return results;
}

function manifests(doc) {
  return doc.vectors.map((v) => {
    let got;
    let detail = null;
    try {
      // (v3) The anchor as a page carries it: the JSON text of its attribute,
      // parsed before the chain is walked.
      const anchor = v.anchor === undefined ? undefined : IC.parseAnchor(JSON.stringify(v.anchor));
      const chain = IC.verifyChain(v.chain, v.trust_root, IC.parseTime(v.now), anchor);
      const latest = chain[chain.length - 1];
      got = "ok";
      const active = IC.activeVerifiers(latest).map((x) => x.kid);
      if (latest.version !== v.latest_version) got = "latest-version-differs";
      else if (JSON.stringify(active) !== JSON.stringify(v.active_verifiers)) got = "active-verifiers-differ";
      else if (b64e(latest.keySetBytes) !== v.key_set_bytes) got = "key-set-bytes-differ";
      else if (latest.keySetFingerprint !== v.key_set_fingerprint) got = "key-set-fingerprint-differs";
    } catch (error) {
      got = reasonOf(error);
    }
    return { name: v.name, expect: v.expect, got, detail };
  });
}

function replies(doc) {
  return doc.vectors.map((v) => {
    let got;
    try {
      const chain = IC.verifyChain(v.chain, v.trust_root, IC.parseTime(v.now));
      const reply = IC.openReply(b64d(v.envelope), v.kid, b64d(v.sig), chain[chain.length - 1], {
        replySecret: b64d(v.reply_secret),
        replyPublic: b64d(v.reply_public),
      });
      got = v.content === undefined || sameBytes(reply.content, b64d(v.content)) ? "ok" : "content-differs";
    } catch (error) {
      got = reasonOf(error);
    }
    return { name: v.name, expect: v.expect, got, detail: null };
  });
}

function mailbox(doc) {
  return doc.vectors.map((v, i) => {
    const name = `mailbox-${i}: ${JSON.stringify(v.codename)}`;
    const expect = v.expect ?? "ok";
    let got;
    try {
      const normalised = IC.normaliseCodename(v.codename);
      const keys = IC.deriveMailbox(v.codename, b64d(v.genesis_payload));
      if (normalised !== v.normalised) got = `normalised-differs: ${JSON.stringify(normalised)}`;
      else if (b64e(keys.replyPublic) !== v.reply_x25519) got = "reply-key-differs";
      else if (b64e(keys.token) !== v.token) got = "token-differs";
      else if (keys.mailboxId !== v.mailbox_id) got = "mailbox-id-differs";
      else got = "ok";
    } catch (error) {
      got = reasonOf(error);
    }
    return { name, expect, got, detail: null };
  });
}

function padding(doc) {
  return doc.vectors.map((v) => {
    let got;
    try {
      const padded = IC.paddedSize(v.length);
      got = padded === v.padded ? "ok" : `padded ${padded}`;
    } catch (error) {
      got = reasonOf(error);
    }
    return { name: `padding-${v.length}`, expect: v.expect ?? "ok", got, detail: null };
  });
}

const RUNNERS = { "envelopes.json": envelopes, "manifests.json": manifests, "replies.json": replies, "mailbox.json": mailbox, "padding.json": padding };

/** The vector files the browser covers (couriers' requests and key files are Python-only). */
export const COVERED = Object.keys(RUNNERS);

export async function runVectorFile(name) {
  const runner = RUNNERS[name];
  if (!runner) throw new Error(`no browser runner for ${name}`);
  return runner(await fetchJson(name));
}
