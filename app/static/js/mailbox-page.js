// The mailbox page: the applicant types his codename; this browser derives
// the mailbox keys, fetches the replies with the token, shows only replies
// signed by a verifier of the verified manifest, and sends follow-ups sealed
// to the current active verifiers.
//
// Nothing is written to cookies, web storage or history. The keys live in
// this page's memory only, and are wiped when the mailbox is closed or the
// page is left.

import { installSafety } from "./safety.js";
import { loadSodium } from "./sodium-loader.js";
import * as intake from "./intake-crypto.js";
import * as codenames from "./codename.js";
import { solve, stepwise } from "./pow.js";
import * as exif from "./exif.js";
import { FileChooser, needsDecision } from "./files.js";
import { api, NetworkFailure, ServerRefusal, sendSubmission } from "./upload.js";

const config = document.getElementById("mailbox-config").dataset;
const messages = JSON.parse(config.messages);
const trustRoot = JSON.parse(config.trustRoot);
const vendorSri = JSON.parse(config.vendorSri);
// [[lang, url, sri, retiredUrl?, retiredSri?]], the page's language first:
// fetched only to check a codename.
const wordlists = JSON.parse(config.wordlists);
const limits = {
  max_files: Number(config.maxFiles),
  max_file_bytes: Number(config.maxFileBytes),
  max_total_bytes: Number(config.maxTotalBytes),
};

const root = document.getElementById("mailbox");
const loginForm = document.getElementById("login-form");
const codenameBox = document.getElementById("codename");
const openButton = document.getElementById("open");
const codenameError = document.getElementById("codename-error");
const statusLine = document.getElementById("status");
const inbox = document.getElementById("inbox");
const replyList = document.getElementById("replies");
const noReplies = document.getElementById("no-replies");
const rejectedBox = document.getElementById("rejected");
const currentStatus = document.getElementById("current-status");
const refreshButton = document.getElementById("refresh");
const closeButton = document.getElementById("close");
const followupForm = document.getElementById("followup-form");
const messageBox = document.getElementById("message");
const filesInput = document.getElementById("files");
const cleanBox = document.getElementById("clean-metadata");
const followupFields = document.getElementById("followup-fields");
const followupStatus = document.getElementById("followup-status");
const progressBox = followupForm.querySelector(".progress");
const progressBar = document.getElementById("progress");

// Reply statuses of PROTOCOL.md, to the message key of their label.
const STATUS_LABELS = {
  received: "status_received",
  "needs-info": "status_needs_info",
  verified: "status_verified",
  declined: "status_declined",
};
const STATUS_NOTICE = { verified: "notice-ok", declined: "notice-error" };
// A BCP 47 tag as a verifier's tool writes it ("ru", "en", "uz-Cyrl").
const LANG_TAG = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$/;

/** A message of the page's language, with {placeholders} filled in. */
function t(key, values = {}) {
  return messages[key].replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

function setState(state, text) {
  root.dataset.state = state;
  if (text !== undefined) statusLine.textContent = text;
}

function setFollowupState(state, text) {
  followupForm.dataset.state = state;
  if (text !== undefined) followupStatus.textContent = text;
}

// ------------------------------------------------------------- set-up

/** The verified manifest chain; `answer` is its download, when already started. */
async function verifiedChain(answer = api("GET", "/api/v1/manifests")) {
  const { chain } = await answer;
  // (v3) Refuse a chain that stops short of the manifest this page was
  // rendered for (a revoked key would sign "verified" replies again), and a
  // page without an anchor.
  const anchor = intake.parseAnchor(config.manifestAnchor);
  const verified = intake.verifyChain(chain, trustRoot, new Date(), anchor);
  return { genesis: verified[0], manifest: verified[verified.length - 1] };
}

async function prepare() {
  setState("loading", t("loading"));
  // The chain's download needs no libsodium, only its check does: on a slow
  // line both travel at once (the page's <head> started libsodium already).
  const chainArrives = api("GET", "/api/v1/manifests");
  chainArrives.catch(() => {}); // awaited below; a failure is reported once, there
  intake.init(await loadSodium(vendorSri));
  const trusted = await verifiedChain(chainArrives);
  document.getElementById("manifest-fingerprint").textContent = trusted.manifest.keySetFingerprint;
  return trusted;
}

const ready = prepare().then(
  (value) => {
    setState("ready", t("ready"));
    return value;
  },
  (error) => {
    console.error("mailbox: set-up failed:", error); // local only
    setState("error", t(error && error.reason ? "chain_failed" : "crypto_failed"));
    openButton.disabled = true;
    throw error;
  },
);
ready.catch(() => {}); // reported on the page above

// ------------------------------------------------------------- the mailbox

// The open mailbox: keys derived from the codename, never stored anywhere.
let opened = null;

function wipe(keys) {
  if (keys === null) return;
  keys.replySecret.fill(0);
  keys.token.fill(0);
}

// The follow-up being sent ({abandoned}), or null.
let sending = null;

/** A follow-up send given up because the mailbox was closed. */
class FollowupAbandoned extends Error {}

/**
 * Give up the follow-up being sent, if any: a send waiting for the network or
 * for "Try again" stops at its next step (upload.js calls onState before
 * every one), and the form is free again. Nothing of it is kept here; what
 * the server holds of an unfinished send expires there.
 */
function abandonFollowup() {
  if (sending === null) return;
  sending.abandoned = true;
  sending = null;
  const resume = resumeFollowup; // a send stuck until "Try again": let it reach its end now
  hideFollowupRetry();
  resume?.();
  lockFollowup(false);
}

/** Forget the keys and everything shown; back to the codename form. */
function closeMailbox() {
  abandonFollowup();
  wipe(opened);
  opened = null;
  shownReplies = null;
  replyList.replaceChildren();
  deleteAllButton.hidden = true;
  resetConfirm(deleteAllButton);
  deleteStatus.textContent = "";
  sentList.replaceChildren();
  sentBox.hidden = true;
  inbox.hidden = true;
  rejectedBox.hidden = true;
  noReplies.hidden = true;
  currentStatus.hidden = true;
  resetFollowup();
  followupStatus.textContent = "";
  progressBox.hidden = true;
  codenameBox.value = "";
  showCodenameErrors([]);
  loginForm.hidden = false;
}
window.addEventListener("pagehide", closeMailbox);

// Quick exit (shared with the intake page) wipes the keys before leaving.
installSafety({ onExit: closeMailbox });
// Links away from this page (other language, the intake page) replace this
// history entry: the browser keeps one entry for this site.
for (const link of document.querySelectorAll("a[data-leave]")) {
  link.addEventListener("click", (event) => {
    event.preventDefault();
    closeMailbox();
    window.location.replace(link.href);
  });
}

/** A mailbox challenge, solved: each check costs the asker a little work. */
async function proofOfWork() {
  const challenge = await api("POST", "/api/v1/mailbox/challenges", {});
  if (challenge.difficulty > 0) setState("working", t("working"));
  const nonce = await solve(challenge.challenge, challenge.difficulty, {
    onProgress: stepwise((percent) => setState("working", t("working_progress", { percent }))),
  });
  return { challenge: challenge.challenge, nonce };
}

/** The replies that verify and open (`{message, name}`), oldest first, and how many did not. */
function openReplies(replies, manifest, keys) {
  const shown = [];
  let rejected = 0;
  for (const reply of Array.isArray(replies) ? replies : []) {
    try {
      const envelope = intake.b64decode(reply.envelope);
      // A reply counts only if a verifier of the verified manifest signed
      // it: the server cannot forge, alter or re-address one.
      const { message } = intake.openReply(envelope, reply.kid, reply.sig, manifest, keys);
      if (message === null || typeof message !== "object" || typeof message.message !== "string") {
        throw new intake.IntakeError("malformed", "reply content is not a reply");
      }
      // Its name on the server for a delete: H(32, envelope), what the verifier signed.
      shown.push({ message, name: intake.b64encode(intake.blake2b(32, envelope)) });
    } catch (error) {
      console.warn("mailbox: a reply was not shown:", error && error.reason); // local only
      rejected += 1;
    }
  }
  return { shown, rejected };
}

function knownStatus(status) {
  return typeof status === "string" && Object.hasOwn(STATUS_LABELS, status) ? status : null;
}

function statusLabel(status) {
  const known = knownStatus(status);
  return t(known === null ? "status_other" : STATUS_LABELS[known]);
}

/** When the verifier wrote it (signed, unlike the server's order), for sorting. */
function sentAt(reply) {
  try {
    return intake.parseTime(reply.sent).getTime();
  } catch (_) {
    return -Infinity;
  }
}

function formatDate(text) {
  try {
    const date = intake.parseTime(text);
    return { iso: text, shown: new Intl.DateTimeFormat(config.lang, { dateStyle: "long", timeStyle: "short" }).format(date) };
  } catch (_) {
    return null;
  }
}

/** The message text as paragraphs: text nodes only, never HTML. */
function messageBody(text, lang) {
  const body = document.createElement("div");
  body.className = "reply-message";
  body.dir = "auto";
  // The verifier chose the language; screen readers and fonts follow it.
  if (typeof lang === "string" && LANG_TAG.test(lang)) body.lang = lang;
  for (const paragraph of text.split(/\n\s*\n/)) {
    if (!paragraph.trim()) continue;
    const p = document.createElement("p");
    paragraph.split("\n").forEach((line, index) => {
      if (index > 0) p.append(document.createElement("br"));
      p.append(document.createTextNode(line));
    });
    body.append(p);
  }
  return body;
}

function renderReplies(result) {
  shownReplies = result;
  const { shown, rejected } = result;
  replyList.replaceChildren();
  // Newest first, by the time each verifier signed into the reply: the
  // server cannot reorder what he reads as the latest word on his case.
  const entries = [...shown].sort((a, b) => sentAt(b.message) - sentAt(a.message) || 0);
  const ordered = entries.map((entry) => entry.message);
  for (const { message: reply, name } of entries) {
    const item = document.createElement("li");
    const known = knownStatus(reply.status);
    item.className = known !== null && Object.hasOwn(STATUS_NOTICE, known) ? `reply notice ${STATUS_NOTICE[known]}` : "reply notice";
    item.dataset.status = known ?? "other";
    const heading = document.createElement("h3");
    heading.className = "reply-status";
    heading.textContent = statusLabel(reply.status);
    item.append(heading);
    const date = formatDate(reply.sent);
    if (date !== null) {
      const time = document.createElement("time");
      time.className = "reply-date";
      time.dateTime = date.iso;
      time.textContent = date.shown;
      const line = document.createElement("p");
      line.append(time);
      item.append(line);
    }
    item.append(messageBody(reply.message, reply.lang));
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "secondary delete-reply";
    remove.textContent = t("delete_reply");
    remove.addEventListener("click", () => onDelete(remove, [name]));
    const actions = document.createElement("p");
    actions.className = "actions";
    actions.append(remove);
    item.append(actions);
    replyList.append(item);
  }
  deleteAllButton.hidden = shown.length === 0 && rejected === 0;
  const latest = ordered[0];
  currentStatus.hidden = latest === undefined;
  currentStatus.textContent = latest === undefined ? "" : t("current_status", { status: statusLabel(latest.status) });
  // A wrong codename and a mailbox without replies look exactly alike.
  noReplies.hidden = shown.length > 0;
  noReplies.textContent = shown.length > 0 ? "" : t("no_replies");
  rejectedBox.hidden = rejected === 0;
  document.getElementById("rejected-text").textContent = rejected === 0 ? "" : t("rejected");
}

/** `request(pow)` with a solved mailbox proof (checks and deletes both pay one). */
async function withProof(request) {
  // The price rose while this proof was being solved (the site is busy): the
  // server says so ("pow-stale") and a fresh challenge at the new price is
  // solved, a couple of times at most, instead of showing an error.
  for (let attempt = 1; ; attempt += 1) {
    const pow = await proofOfWork();
    try {
      return await request(pow);
    } catch (error) {
      if (!(error instanceof ServerRefusal && error.code === "pow-stale") || attempt >= 3) throw error;
    }
  }
}

async function checkMailbox(keys) {
  const { manifest } = await verifiedChain();
  const answer = await withProof((pow) => {
    setState("checking", t("checking"));
    return api("POST", "/api/v1/mailbox", { token: intake.b64encode(keys.token), pow });
  });
  return openReplies(answer.replies, manifest, keys);
}

// ------------------------------------------------------------- deleting replies

const deleteAllButton = document.getElementById("delete-all");
const deleteStatus = document.getElementById("delete-status");
// The open mailbox's replies as shown ({shown, rejected}), to redraw after a delete.
let shownReplies = null;

/**
 * Delete replies from the server: those named (b64 H(32, envelope)), or
 * every one (`names` null), including any this page refused to show. The
 * token is the authorisation, as for reading: the server deletes only rows
 * of the mailbox it names.
 */
function deleteReplies(keys, names) {
  const which = names === null ? { all: true } : { replies: names };
  return withProof((pow) => {
    setState("deleting", t("deleting"));
    return api("POST", "/api/v1/mailbox/delete", { token: intake.b64encode(keys.token), pow, ...which });
  });
}

function resetConfirm(button) {
  if (button.dataset.label !== undefined) button.textContent = button.dataset.label;
  delete button.dataset.label;
  delete button.dataset.confirm;
}

/** Deleting cannot be undone: the first press asks, the second deletes. */
async function onDelete(button, names) {
  if (opened === null || button.disabled) return;
  if (button.dataset.confirm !== "yes") {
    button.dataset.label = button.textContent;
    button.dataset.confirm = "yes";
    button.textContent = t(names === null ? "delete_all_confirm" : "delete_reply_confirm");
    deleteStatus.textContent = "";
    return;
  }
  const keys = opened;
  button.disabled = true;
  deleteAllButton.disabled = true;
  refreshButton.disabled = true;
  try {
    await deleteReplies(keys, names);
    if (opened !== keys) return;
    const gone = names === null ? null : new Set(names);
    renderReplies({
      shown: gone === null ? [] : shownReplies.shown.filter((entry) => !gone.has(entry.name)),
      rejected: gone === null ? 0 : shownReplies.rejected,
    });
    setState("open", t("opened"));
    deleteStatus.textContent = t(names === null ? "deleted_all" : "deleted_one");
  } catch (error) {
    reportError(error, (text) => setState("open", text));
  } finally {
    resetConfirm(button);
    button.disabled = false;
    deleteAllButton.disabled = false;
    refreshButton.disabled = false;
  }
}

deleteAllButton.addEventListener("click", () => onDelete(deleteAllButton, null));

// ------------------------------------------------------------- what he sent, this session

const sentBox = document.getElementById("sent-box");
const sentList = document.getElementById("sent-list");

/**
 * Show a follow-up he has just sent, in this page's memory only: a phone
 * that may be searched keeps nothing once the mailbox is closed, and the
 * server is never asked for this list, so it can neither learn more nor
 * slip in a message he did not write.
 */
function rememberSent({ text, files, reference }) {
  if (opened === null) return;
  const item = document.createElement("li");
  item.className = "reply notice sent";
  const date = formatDate(new Date().toISOString().replace(/\.\d{3}Z$/, "Z"));
  const heading = document.createElement("p");
  heading.className = "sent-heading";
  heading.textContent = t("sent_item", { time: date === null ? "" : date.shown, reference });
  item.append(heading);
  if (text.trim()) item.append(messageBody(text));
  if (files.length > 0) {
    item.append(Object.assign(document.createElement("p"), { textContent: t("sent_files", { names: files.join(", ") }) }));
  }
  sentList.prepend(item);
  sentBox.hidden = false;
}

function reportError(error, show) {
  console.error("mailbox:", error); // local only: helps whoever debugs this phone
  if (error instanceof NetworkFailure) show(t("network"));
  else if (error instanceof ServerRefusal && error.status === 429) show(t("rate_limited"));
  else if (error instanceof ServerRefusal) show(t("server_error", { message: error.message }));
  else if (error && error.reason) show(t("chain_failed"));
  else show(t("unexpected"));
}

// ------------------------------------------------------------- the codename check

// Each word list, fetched (SRI-pinned) the first time a codename needs it.
const listCache = new Map();

function cached(key, load) {
  if (!listCache.has(key)) {
    const loading = load();
    // A failed fetch is tried again on the next attempt, not remembered.
    loading.catch(() => listCache.delete(key));
    listCache.set(key, loading);
  }
  return listCache.get(key);
}

function wordlist(lang, url, sri) {
  return cached(lang, () => codenames.loadWordlist(lang, sri, url));
}

/** A list's retired words (older codenames may hold them), or none. */
function retiredWords(lang, url, sri) {
  if (!url) return Promise.resolve([]);
  return cached(`${lang} retired`, () => codenames.loadRetired(lang, sri, url));
}

/**
 * The lists to check `words` against, as `[[lang, words, retired]]`: the
 * page language's current list first; the other lists and every list's
 * retired words only if a word is not in it.
 */
async function listsFor(words) {
  const [first, ...others] = wordlists;
  const current = await wordlist(...first.slice(0, 3));
  const known = new Set(current);
  if (words.every((word) => known.has(word))) return [[first[0], current, []]];
  const lists = [];
  for (const entry of [first, ...others]) {
    const [lang, url, sri, retiredUrl, retiredSri] = entry;
    lists.push([lang, await wordlist(lang, url, sri), await retiredWords(lang, retiredUrl, retiredSri)]);
  }
  return lists;
}

function showCodenameErrors(lines) {
  codenameError.replaceChildren(...lines.map((line) => Object.assign(document.createElement("p"), { textContent: line })));
  codenameError.hidden = lines.length === 0;
  if (lines.length > 0) codenameBox.setAttribute("aria-invalid", "true");
  else codenameBox.removeAttribute("aria-invalid");
}

/**
 * The codename's nine words as the protocol normalises them, list numbering
 * left out, or null after saying what is wrong. A mistyped codename derives
 * another, empty mailbox and nobody could tell (the server cannot): so
 * nothing is derived or sent until every word is a word of one list.
 */
async function checkedCodename(typed) {
  const read = codenames.readCodename(intake.normaliseCodename(typed));
  if (read.problem === "count") {
    showCodenameErrors([t("codename_count", { count: read.count })]);
    return null;
  }
  if (read.problem === "numbering") {
    showCodenameErrors([t("codename_numbering", read)]);
    return null;
  }
  let lists;
  try {
    lists = await listsFor(read.words);
  } catch (error) {
    console.error("mailbox: word list:", error); // local only
    // Fail closed: an unchecked codename is not used.
    showCodenameErrors([t("codename_list_failed")]);
    return null;
  }
  const { wrong } = codenames.wrongWords(read.words, lists);
  if (wrong.length > 0) {
    const lines = wrong.map((item) => t(item.suggestion ? "codename_unknown_word_suggest" : "codename_unknown_word", item));
    showCodenameErrors([...lines, t("codename_fix_words")]);
    return null;
  }
  showCodenameErrors([]);
  return read.words.join(" ");
}

loginForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (openButton.disabled) return;
  if (!intake.normaliseCodename(codenameBox.value)) {
    showCodenameErrors([]);
    statusLine.textContent = t("empty_codename");
    codenameBox.focus();
    return;
  }
  openButton.disabled = true;
  let keys = null;
  try {
    const codename = await checkedCodename(codenameBox.value);
    if (codename === null) {
      codenameBox.focus();
      return;
    }
    const { genesis } = await ready;
    keys = intake.deriveMailbox(codename, genesis.payload);
    const result = await checkMailbox(keys);
    closeMailbox(); // any mailbox opened before this one; clears the codename box
    opened = keys;
    renderReplies(result);
    loginForm.hidden = true;
    inbox.hidden = false;
    setFollowupState("idle", "");
    setState("open", t("opened"));
    document.getElementById("inbox-title").focus();
  } catch (error) {
    if (keys !== opened) wipe(keys);
    reportError(error, (text) => setState("ready", text));
  } finally {
    openButton.disabled = false;
  }
});

// Enter opens the mailbox (a codename is one line, however it wraps).
codenameBox.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    loginForm.requestSubmit();
  }
});

refreshButton.addEventListener("click", async () => {
  if (opened === null) return;
  const keys = opened;
  refreshButton.disabled = true;
  try {
    const result = await checkMailbox(keys);
    if (opened === keys) {
      renderReplies(result);
      setState("open", t("opened"));
    }
  } catch (error) {
    reportError(error, (text) => setState("open", text));
  } finally {
    refreshButton.disabled = false;
  }
});

closeButton.addEventListener("click", () => {
  closeMailbox();
  setState("ready", t("closed"));
  codenameBox.focus();
});

// ------------------------------------------------------------- follow-ups

function randomHex(bytes) {
  return intake.hex(crypto.getRandomValues(new Uint8Array(bytes)));
}

// The files he chose, as on the intake page (files.js): limits checked as he
// picks them, each looked into at once, and every file whose hidden data
// cannot be removed held until he decides about it.
const chooser = new FileChooser({
  input: filesInput,
  list: document.getElementById("file-list"),
  total: document.getElementById("files-total"),
  error: document.getElementById("files-error"),
  limits,
  lang: config.lang,
  t,
  onChange: () => chooser.inspect(async () => exif),
});
cleanBox.addEventListener("change", () => {
  chooser.cleaning = cleanBox.checked;
  chooser.render();
});

/** An empty follow-up form: his message and files forgotten. */
function resetFollowup() {
  followupForm.reset();
  chooser.clear();
  chooser.cleaning = cleanBox.checked;
}

/**
 * Freeze (or free) the follow-up while it is sealed and sent: what he chose
 * must not change under us. A disabled fieldset also covers the buttons of a
 * file row drawn while it is sent.
 */
function lockFollowup(on) {
  followupFields.disabled = on;
}

/**
 * Seal and send a follow-up (PROTOCOL.md: a submission's shape with answers
 * {message} and the same reply object, so the verifier threads it into the
 * case that named this reply key).
 */
async function sendFollowup(send, keys, text, items, clean) {
  setFollowupState("encrypting", t("encrypting"));
  // The keys in force now, not those of when the mailbox was opened.
  const { manifest } = await verifiedChain();
  if (send.abandoned) throw new FollowupAbandoned();
  const recipients = intake.activeVerifiers(manifest);
  const attachments = [];
  for (const item of items) {
    // Never silently: a file whose hidden data stays in it goes only if he
    // said so (checked before sending; this is the last line).
    if (needsDecision(item)) throw new Error("a file's hidden data was not decided on");
    // A photo's place, time and camera can identify him: dropped here, before
    // encryption, unless he chose to keep them (the pixels are untouched).
    const blob = clean ? item.clean.blob : item.file;
    const file = item.file;
    attachments.push({
      id: randomHex(16),
      file,
      size: blob.size,
      sealed: untilAbandoned(send, intake.sealBlob(blob, { kind: "attachment", manifest, recipients })),
    });
  }
  const sent = new Date();
  const content = (digests) =>
    intake.buildContent({
      lang: config.lang,
      form: { id: "followup", version: 1 },
      answers: { message: text },
      attachments: attachments.map(({ id, file, size }) => ({
        id,
        name: file.name,
        type: file.type,
        size,
        digest: digests.get(id),
      })),
      reply: { x25519: keys.replyPublic, mailbox: keys.mailboxId },
      sent,
    });
  // A digest's base64 has one length whatever its value, so the form's size
  // is known before the attachments are encrypted and the server can be
  // told every size up front.
  const placeholder = new Map(attachments.map(({ id }) => [id, new Uint8Array(32)]));
  const formSize = intake.envelopeSize(content(placeholder).length, {
    kind: "followup",
    manifest,
    recipients,
  });
  const form = {
    size: formSize,
    async build(digests) {
      if (send.abandoned) throw new FollowupAbandoned();
      const plaintext = content(digests);
      const { envelope } = await intake.sealBytes(plaintext, { kind: "followup", manifest, recipients });
      plaintext.fill(0);
      return envelope;
    },
  };
  progressBox.hidden = false;
  progressBar.value = 0;
  try {
    // The intake page's own upload flow (upload.js): the same retries,
    // timeouts and "Try again" on both pages.
    return await sendSubmission({
      kind: "followup",
      form,
      attachments,
      onState: (state, info) => {
        if (!send.abandoned) showFollowupSendState(state, info);
        // Thrown into upload.js's flow, the send ends before its next request
        // ("uploading" also comes from an upload's progress events, where a
        // throw would go nowhere: the next piece stops it, untilAbandoned).
        else if (state !== "uploading") throw new FollowupAbandoned();
      },
      timing: config.uploadTiming,
    });
  } finally {
    if (!send.abandoned) hideFollowupRetry(); // an abandoned send's box may be another send's now
    for (const { sealed } of attachments) sealed.dispose();
  }
}

/** A sealed attachment whose pieces stop coming once `send` is abandoned. */
function untilAbandoned(send, sealed) {
  return {
    size: sealed.size,
    async *parts(options) {
      for await (const part of sealed.parts(options)) {
        if (send.abandoned) throw new FollowupAbandoned();
        yield part;
      }
    },
    digest: () => sealed.digest(),
    dispose: () => sealed.dispose(),
  };
}

const followupRetryBox = document.getElementById("followup-retry-box");
const followupRetry = document.getElementById("followup-retry");
// What upload.js reports while a send is slow, stalled or stuck (the page's
// language, from app/templates/upload_messages.html).
const uploadMessages = JSON.parse(config.uploadMessages || "{}");
let resumeFollowup = null;

function uploadText(key, values = {}) {
  return (uploadMessages[key] ?? key).replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

function hideFollowupRetry() {
  followupRetryBox.hidden = true;
  resumeFollowup = null;
}

followupRetry.addEventListener("click", () => {
  const resume = resumeFollowup;
  hideFollowupRetry();
  resume?.();
});

/** The send's state (upload.js `sendSubmission`'s onState) under the follow-up form. */
function showFollowupSendState(state, info) {
  if (state !== "stuck") hideFollowupRetry();
  if (state === "uploading") {
    const percent = info.total ? Math.floor((100 * info.done) / info.total) : 0;
    progressBar.value = (100 * info.done) / (info.total || 1); // moves every few kilobytes
    // The status line is read aloud: it changes every tenth, not every piece.
    const step = Math.floor(percent / 10) * 10;
    if (followupForm.dataset.state !== "uploading" || followupForm.dataset.step !== String(step)) {
      followupForm.dataset.step = String(step);
      setFollowupState("uploading", t("uploading", { percent: step }));
    }
  } else if (state === "working") {
    setFollowupState(state, info.percent === undefined ? t("working") : t("working_progress", { percent: info.percent }));
  } else if (state === "offline") {
    setFollowupState(state, t("offline"));
  } else if (state === "stalled") {
    setFollowupState(state, uploadText("stalled", { seconds: info.seconds }));
  } else if (state === "busy" || state === "resuming") {
    setFollowupState(state, uploadText(state));
  } else if (state === "stuck") {
    setFollowupState(state, uploadText("stuck"));
    resumeFollowup = info.resume;
    followupRetryBox.hidden = false;
    followupRetry.focus();
  }
}

followupForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (opened === null || followupFields.disabled) return;
  const text = messageBox.value;
  if (!text.trim() && chooser.items.length === 0) {
    followupStatus.textContent = t("followup_empty");
    messageBox.focus();
    return;
  }
  lockFollowup(true);
  const send = { abandoned: false };
  sending = send;
  try {
    // A file added a moment ago is looked into now; any he has not decided
    // about stops the follow-up here, before anything is sealed or sent.
    await chooser.inspect(async () => exif);
    if (send.abandoned) return;
    const undecided = chooser.firstUndecided();
    if (undecided) {
      lockFollowup(false);
      setFollowupState("idle", t("decide_files"));
      undecided.querySelector("button[data-accept]")?.focus();
      return;
    }
    const { id } = await sendFollowup(send, opened, text, [...chooser.items], chooser.cleaning);
    // Closed while its last piece travelled: it went, but this page now shows
    // no mailbox (or another one), so it is listed nowhere.
    if (send.abandoned) return;
    rememberSent({ text, files: chooser.items.map((item) => item.file.name), reference: id.slice(0, 8) });
    resetFollowup();
    progressBox.hidden = true;
    setFollowupState("sent", t("sent", { reference: id.slice(0, 8) }));
  } catch (error) {
    if (send.abandoned) return; // the mailbox was closed: nothing to show
    progressBox.hidden = true;
    reportError(error, (line) => setFollowupState("error", line));
  } finally {
    if (sending === send) {
      sending = null;
      lockFollowup(false);
    }
  }
});
