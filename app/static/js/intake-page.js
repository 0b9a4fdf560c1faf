// The applicant's page: verify the organisation's keys, encrypt the form in
// this browser, upload the ciphertext in resumable pieces.
//
// Nothing is written to cookies or web storage and nothing is sent before it
// is encrypted. The form is plain HTML and usable at once; the crypto library
// loads behind it and is awaited only when the applicant presses "send".

import { loadSodium } from "./sodium-loader.js";
import * as intake from "./intake-crypto.js";
import { solve } from "./pow.js";

const config = document.getElementById("intake-config").dataset;
const messages = JSON.parse(config.messages);
const trustRoot = JSON.parse(config.trustRoot);
const vendorSri = JSON.parse(config.vendorSri);

const form = document.getElementById("intake-form");
const statusLine = document.getElementById("status");
const sendButton = document.getElementById("send");
const progressBox = form.querySelector(".progress");
const progressBar = document.getElementById("progress");

/** A message of the page's language, with {placeholders} filled in. */
function t(key, values = {}) {
  return messages[key].replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

function setState(state, text) {
  form.dataset.state = state;
  statusLine.textContent = text;
}

/** A server error answer, as {code, message}; the server's one JSON error shape. */
class ServerRefusal extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || "http-error";
    this.detail = error.detail || {};
  }
}

async function api(method, path, body, headers = {}) {
  const init = { method, headers: { ...headers }, credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer" };
  if (body instanceof Uint8Array) {
    init.body = body;
    init.headers["Content-Type"] = "application/octet-stream";
  } else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(path, init);
  const answer = await response.json().catch(() => null);
  if (!response.ok) throw new ServerRefusal(response.status, answer);
  return answer;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Upload one envelope from `offset` on, piece by piece. A dropped connection
 * is waited out and resumed from what the server says it holds, so nothing is
 * sent twice and nothing is lost.
 */
async function uploadEnvelope(sid, eid, bytes, pieceSize, onSent) {
  const base = `/api/v1/submissions/${sid}/envelopes/${eid}`;
  let offset = 0;
  let delay = 500;
  while (offset < bytes.length) {
    try {
      const piece = bytes.subarray(offset, Math.min(offset + pieceSize, bytes.length));
      const answer = await api("PUT", `${base}?offset=${offset}`, piece);
      offset = answer.offset;
      delay = 500;
      onSent(offset);
    } catch (error) {
      if (error instanceof ServerRefusal && error.status === 409 && Number.isInteger(error.detail.offset)) {
        offset = error.detail.offset;  // the server holds more (or less) than we thought
        continue;
      }
      if (error instanceof ServerRefusal) throw error;
      // A network failure: wait for the connection, then ask where to resume.
      setState("offline", t("offline"));
      await sleep(delay);
      delay = Math.min(delay * 2, 10000);
      try {
        offset = (await api("GET", base)).offset;
      } catch (_) { /* still offline; loop and wait again */ }
    }
  }
}

async function prepare() {
  setState("loading", t("loading"));
  const sodium = await loadSodium(vendorSri);
  intake.init(sodium);
  const { chain } = await api("GET", "/api/v1/manifests");
  const verified = intake.verifyChain(chain, trustRoot, new Date());
  const manifest = verified[verified.length - 1];
  document.getElementById("manifest-fingerprint").textContent = manifest.fingerprint;
  return { sodium, manifest };
}

const ready = prepare().then(
  (value) => { setState("ready", t("ready")); return value; },
  (error) => {
    const key = error && error.reason ? "chain_failed" : "crypto_failed";
    setState("error", t(key));
    throw error;
  },
);

function answers() {
  return {
    story: document.getElementById("story").value,
    contact: document.getElementById("contact").value,
  };
}

async function send() {
  const { manifest } = await ready;
  const values = answers();
  setState("encrypting", t("encrypting"));
  const content = {
    v: 2,
    lang: config.lang,
    form: { id: "basic-intake", version: 1 },
    answers: values,
    attachments: [],
    sent: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
  };
  const plaintext = new TextEncoder().encode(JSON.stringify(content));
  const sealed = await intake.sealBytes(plaintext, {
    kind: "submission",
    manifest,
    recipients: intake.activeVerifiers(manifest),
  });
  plaintext.fill(0);

  const challenge = await api("POST", "/api/v1/challenges", {});
  setState("working", t("working"));
  const nonce = await solve(challenge.challenge, challenge.difficulty);
  const created = await api("POST", "/api/v1/submissions", {
    kind: "submission",
    mailbox: null,
    envelopes: [{ id: "form", size: sealed.envelope.length }],
    pow: { challenge: challenge.challenge, nonce },
  });

  progressBox.hidden = false;
  const total = sealed.envelope.length;
  await uploadEnvelope(created.id, "form", sealed.envelope, created.upload.chunk, (sent) => {
    const percent = Math.floor((100 * sent) / total);
    progressBar.value = percent;
    setState("uploading", t("uploading", { percent }));
  });
  await api("POST", `/api/v1/submissions/${created.id}/finalise`, {});
  return created.id;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!answers().story.trim()) {
    setState(form.dataset.state === "ready" ? "ready" : form.dataset.state, t("empty"));
    document.getElementById("story").focus();
    return;
  }
  sendButton.disabled = true;
  try {
    const reference = await send();
    form.hidden = true;
    form.reset();
    const done = document.getElementById("done");
    document.getElementById("done-text").textContent = t("sent", { reference: reference.slice(0, 8) });
    done.hidden = false;
    form.dataset.state = "sent";
    done.focus();
  } catch (error) {
    console.error("intake: send failed:", error);  // local only: helps whoever debugs this phone
    sendButton.disabled = false;
    if (error instanceof ServerRefusal) setState("error", t("server_error", { message: error.message }));
    else if (error && error.reason) setState("error", t("chain_failed"));
    else setState("error", t("unexpected"));
  }
});
