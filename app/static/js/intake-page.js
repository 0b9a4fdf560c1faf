// The applicant's page: steps through the form, makes the codename, then
// verifies the organisation's keys, encrypts every answer and file in this
// browser, and uploads the ciphertext in resumable pieces.
//
// Nothing is written to cookies, web storage or IndexedDB, no service worker
// is registered, and nothing leaves the page before it is encrypted. The form
// is plain HTML and usable at once; the crypto modules and libsodium load
// behind it (each file pinned by its SRI value) and are awaited only when
// they are needed.

import { installSafety } from "./safety.js";
import {
  Steps,
  answerText,
  checkQuestions,
  collectAnswers,
  firstControl,
  keepExclusive,
  questionLabel,
  questions,
  renderedShape,
  sameShape,
  signedShape,
  translator,
} from "./form.js";
import { FileChooser, formatSize, needsDecision } from "./files.js";

const $ = (id) => document.getElementById(id);
const config = $("intake-config").dataset;
const t = translator(JSON.parse(config.messages));
const lang = config.lang;
const limits = JSON.parse(config.limits);
const moduleSri = JSON.parse(config.moduleSri);
const wordlist = JSON.parse(config.wordlist);
const formRef = JSON.parse(config.formRef);

const form = $("intake-form");
const alertBox = $("form-alert");
const statusLine = $("status");
const sendButton = $("send");
const progressBox = form.querySelector(".progress");
const progressBar = $("progress");
const progressText = $("progress-text");

const MODULE = (name) => `/static/js/${name}`;
// A stand-in digest of the real length (32 bytes in base64): the form
// envelope's size is declared before the attachments' digests are known.
const PLACEHOLDER_DIGEST = "A".repeat(43) + "=";

// ------------------------------------------------------------------ state and messages

function setState(state, text) {
  form.dataset.state = state;
  if (text !== undefined) statusLine.textContent = text;
}

// The error summary (GOV.UK): either one sentence (the server, the
// connection, the keys) or a list of links, one per question to put right.
const alertText = $("form-alert-text");
const alertList = $("form-alert-list");
let summarised = []; // the questions listed now, re-checked as he answers

/** A sentence in the summary (null hides it). */
function showAlert(text) {
  summarised = [];
  alertText.textContent = text ?? "";
  alertText.hidden = !text;
  alertList.replaceChildren();
  alertBox.hidden = !text;
}

function shortLabel(el) {
  const label = questionLabel(el);
  return label.length > 80 ? `${label.slice(0, 77)}…` : label;
}

function problemText(el) {
  if (el.closest("#file-list")) return t("decide_files");
  const problem = el.querySelector(".error")?.textContent || t("required");
  const label = shortLabel(el);
  return label ? t("field_problem", { label, problem }) : problem;
}

/** Where the focus goes for a question: the chosen option, else its first control. */
function controlOf(el) {
  return el.querySelector("input:checked") ?? firstControl(el) ?? el;
}

/** Bring a question into view (its label too, under the sticky header) and focus it. */
function focusQuestion(el) {
  const control = controlOf(el);
  (control.closest("fieldset, .field, li") ?? control).scrollIntoView({ block: "start" });
  control.focus({ preventScroll: true });
}

/** List `bad` (question wrappers, or files awaiting a decision) as links; with `focus`, focus the summary. */
function showProblems(bad, { focus = true } = {}) {
  summarised = bad;
  alertText.hidden = true;
  alertList.replaceChildren(
    ...bad.map((el) => {
      const link = document.createElement("a");
      link.href = `#${controlOf(el).id || "file-list"}`;
      link.textContent = problemText(el);
      link.addEventListener("click", (event) => {
        event.preventDefault(); // no fragment in the address: it would reach the history
        focusQuestion(el);
      });
      const item = document.createElement("li");
      item.append(link);
      return item;
    }),
  );
  alertBox.hidden = bad.length === 0;
  if (focus && bad.length) {
    window.scrollTo(0, 0);
    alertBox.focus();
  }
}

/** After each change, the summary lists only what is still wrong, and goes when nothing is. */
function refreshProblems() {
  if (!summarised.length || form.dataset.state === "sent") return;
  const bad = problemsIn(steps.current);
  if (bad.length) showProblems(bad, { focus: false });
  else showAlert(null);
}

/** A page whose rendered questions differ from the signed ones. */
class FormMismatch extends Error {}

/** Envelopes the server would refuse for their size (said before any upload). */
class TooLarge extends Error {}

// ------------------------------------------------------------------ modules, loaded after first render

const modules = new Map();

/**
 * Import one of our modules, integrity-checked: a module enters the module
 * map only through a <link rel="modulepreload" integrity>, and the import()
 * that follows reuses exactly that checked module.
 */
function lazy(name) {
  const url = MODULE(name);
  if (!modules.has(url)) {
    const loading = (async () => {
      const integrity = moduleSri[url];
      if (typeof integrity !== "string") throw new Error(`no integrity value for ${url}`);
      const link = document.createElement("link");
      link.rel = "modulepreload";
      link.href = url;
      link.integrity = integrity;
      link.crossOrigin = "anonymous";
      await new Promise((resolve, reject) => {
        link.addEventListener("load", resolve, { once: true });
        link.addEventListener("error", () => reject(new Error(`${url} failed to load or its integrity check`)), { once: true });
        document.head.append(link);
      });
      return import(url);
    })();
    modules.set(url, loading);
  }
  return modules.get(url);
}

// ------------------------------------------------------------------ crypto, keys and the signed form

let readyPromise = null;

async function prepare() {
  // Everything at once (the page's <head> has started each file already): on
  // a slow line each wait in turn would leave the line idle. The manifest
  // chain's download needs no libsodium, only its check does.
  const uploading = lazy("upload.js");
  const chainArrives = uploading.then((upload) => upload.persist(() => upload.api("GET", "/api/v1/manifests")));
  const sodiumArrives = lazy("sodium-loader.js").then((loader) => loader.loadSodium(JSON.parse(config.vendorSri)));
  chainArrives.catch(() => {}); // awaited below; a failure is reported once, there
  sodiumArrives.catch(() => {});
  const [intake, upload, , sodium] = await Promise.all([
    lazy("intake-crypto.js"),
    uploading,
    lazy("pow.js"),
    sodiumArrives,
  ]);
  intake.init(sodium);
  const { chain } = await chainArrives;
  // (v3) The chain must reach the manifest this (signed) page was rendered
  // for: a chain rolled back to before a revocation is refused, and so is a
  // page without an anchor.
  const anchor = intake.parseAnchor(config.manifestAnchor);
  const verified = intake.verifyChain(chain, JSON.parse(config.trustRoot), new Date(), anchor);
  const manifest = verified[verified.length - 1];
  $("manifest-fingerprint").textContent = manifest.keySetFingerprint;
  // The questions cannot be altered without the admins' signatures: what this
  // page shows must be the form the verified manifest carries.
  const signed = manifest.data.form;
  const matches =
    signed === undefined
      ? config.formSource === "default"
      : signed !== null &&
        signed.id === formRef.id &&
        signed.version === formRef.version &&
        sameShape(renderedShape(form), signedShape(signed));
  if (!matches) throw new FormMismatch();
  return { sodium, intake, upload, manifest, genesis: verified[0] };
}

function failureMessage(error) {
  if (error instanceof FormMismatch) return t("form_mismatch");
  if (error && error.reason) return t("chain_failed");
  return t("crypto_failed");
}

function getReady() {
  if (readyPromise === null) {
    readyPromise = prepare();
    readyPromise.then(
      () => {
        if (form.dataset.state === "loading") setState("ready", t("ready"));
        // The rest of the modules now, while the connection is there (a send
        // started offline must find them in place), but after "ready": before
        // it they would only slow libsodium down on a slow line.
        for (const name of ["exif.js", "codename.js"]) lazy(name).catch(() => {});
      },
      (error) => {
        console.error("intake: preparing failed:", error); // local only: helps whoever debugs this phone
        readyPromise = null; // a later press of "send" tries again
        setState("error", failureMessage(error));
        if (error instanceof FormMismatch || (error && error.reason)) showAlert(failureMessage(error));
      },
    );
  }
  return readyPromise;
}

// ------------------------------------------------------------------ steps

const sendIndex = () => steps.indexOfId("step-send");
// After "Change" on the check-your-answers step: that step's "next" returns there.
let changing = false;
const nextLabels = new Map([...form.querySelectorAll("button[data-go=next]")].map((b) => [b, b.textContent]));

const steps = new Steps(form, t, {
  onShow(step) {
    showAlert(null);
    if (step.id === "step-send") {
      changing = false;
      renderSummary();
    }
    for (const [button, label] of nextLabels) button.textContent = changing ? t("back_to_check") : label;
  },
});

function goTo(index) {
  steps.show(index);
}

function problemsIn(step) {
  const bad = checkQuestions(step, t);
  if (step.id === "step-files") {
    // A file whose hidden data stays in it waits for his own decision.
    const undecided = chooser.firstUndecided();
    if (undecided) bad.push(undecided);
  }
  if (step.id === "step-reply") {
    const problem = replyProblem();
    $("reply-error").textContent = problem ?? "";
    $("reply-error").hidden = problem === null;
    $("reply-choice").classList.toggle("invalid", problem !== null);
    if (problem !== null) bad.push($("reply-choice"));
  }
  return bad;
}

function next() {
  const bad = problemsIn(steps.current);
  if (bad.length) {
    showProblems(bad);
    return;
  }
  goTo(changing ? sendIndex() : steps.index + 1);
}

/** "Change" on the check-your-answers step: that question's step, the focus on it. */
function change(control) {
  const index = steps.indexOf(control);
  if (index < 0) return;
  changing = true;
  steps.show(index, { focus: false });
  focusQuestion(control.closest("[data-field]") ?? control.closest(".field") ?? control);
}

form.addEventListener("click", (event) => {
  const changeLink = event.target.closest("a[data-change]");
  if (changeLink) {
    event.preventDefault(); // no fragment in the address: it would reach the history
    const control = $(changeLink.dataset.change);
    if (control) change(control);
    return;
  }
  const button = event.target.closest("button[data-go], button[data-clear]");
  if (!button) {
    if (event.target.closest("#file-list button")) refreshProblems(); // a file's decision taken
    return;
  }
  if (button.dataset.go === "next") next();
  else if (button.dataset.go === "back") steps.back();
  else if (button.dataset.clear) {
    for (const input of form.querySelectorAll(`input[name="${CSS.escape(button.dataset.clear)}"]`)) input.checked = false;
    button.hidden = true;
    firstControl(button.closest("[data-field]"))?.focus();
    refreshProblems();
  }
});

form.addEventListener("change", (event) => {
  keepExclusive(event); // "No documents" and the documents exclude each other
  // A chosen single answer can be taken back.
  const field = event.target.closest("[data-field]");
  const clear = field?.querySelector("button[data-clear]");
  if (clear) clear.hidden = !field.querySelector("input:checked");
  refreshProblems();
});
form.addEventListener("input", refreshProblems);

// ------------------------------------------------------------------ files

const chooser = new FileChooser({
  input: $("files"),
  list: $("file-list"),
  total: $("files-total"),
  error: $("files-error"),
  limits,
  lang,
  t,
  onChange: () => inspectFiles(),
});
const cleanBox = $("clean-metadata");
cleanBox.addEventListener("change", () => {
  chooser.cleaning = cleanBox.checked;
  chooser.render();
});

// Look into each new file at once, so he sees what will be removed, and is
// asked about every file whose hidden data cannot be (before anything is sent).
function inspectFiles() {
  return chooser.inspect(() => lazy("exif.js"));
}

// ------------------------------------------------------------------ codename

const reply = { choice: null, words: null, positions: null, confirmed: false, mailbox: null };

function replyProblem() {
  if (reply.choice === null) return t("codename_choose");
  if (reply.choice === "codename" && !reply.confirmed) return t("codename_confirm_first");
  return null;
}

function showCodenamePart(part) {
  for (const id of ["codename-show", "codename-confirm", "codename-done"]) $(id).hidden = id !== part;
}

async function makeCodename() {
  const status = $("codename-status");
  status.textContent = t("codename_wait");
  try {
    const [{ sodium, intake, genesis }, codenames] = await Promise.all([getReady(), lazy("codename.js")]);
    const list = await codenames.loadWordlist(wordlist.lang, wordlist.sri, wordlist.url);
    const codename = codenames.generateCodename(sodium, wordlist.lang, list);
    const keys = intake.deriveMailbox(codename, genesis.payload);
    reply.mailbox = { x25519: intake.b64encode(keys.replyPublic), mailbox: keys.mailboxId };
    sodium.memzero(keys.replySecret); // the page needs only the public key and the id
    sodium.memzero(keys.token);
    reply.words = codename.split(" ");
    // Two different words, chosen at random, to re-type from the paper.
    const a = sodium.randombytes_uniform(reply.words.length);
    let b = sodium.randombytes_uniform(reply.words.length - 1);
    if (b >= a) b += 1;
    reply.positions = [a, b].sort((x, y) => x - y);
    $("codename-words").replaceChildren(
      ...reply.words.map((word) => Object.assign(document.createElement("li"), { textContent: word })),
    );
    status.textContent = "";
    showCodenamePart("codename-show");
  } catch (error) {
    console.error("intake: codename failed:", error);
    status.textContent = error instanceof FormMismatch || error?.reason ? failureMessage(error) : t("codename_failed");
  }
}

for (const radio of form.querySelectorAll('input[name="_reply"]')) {
  radio.addEventListener("change", () => {
    reply.choice = radio.value;
    $("codename-box").hidden = reply.choice !== "codename";
    $("reply-error").hidden = true;
    $("reply-choice").classList.remove("invalid");
    if (reply.choice === "codename" && reply.words === null && !reply.confirmed) makeCodename();
  });
}

$("codename-written").addEventListener("click", () => {
  const [a, b] = reply.positions;
  $("confirm-a-label").textContent = t("codename_word", { n: a + 1 });
  $("confirm-b-label").textContent = t("codename_word", { n: b + 1 });
  $("confirm-a").dataset.word = String(a + 1);
  $("confirm-b").dataset.word = String(b + 1);
  $("confirm-a").value = "";
  $("confirm-b").value = "";
  $("confirm-error").hidden = true;
  showCodenamePart("codename-confirm");
  $("confirm-a").focus();
});

$("codename-again").addEventListener("click", () => {
  showCodenamePart("codename-show");
  $("codename-written").focus();
});

function sameWord(typed, word) {
  // PROTOCOL.md's normalisation, word by word: case, ё/е and spaces do not matter.
  return typed.normalize("NFKC").toLowerCase().replaceAll("\u0451", "\u0435").trim() === word;
}

$("codename-check").addEventListener("click", () => {
  const inputs = [$("confirm-a"), $("confirm-b")];
  const wrong = reply.positions.findIndex((position, i) => !sameWord(inputs[i].value, reply.words[position]));
  if (wrong !== -1) {
    $("confirm-error").textContent = t("codename_wrong", { n: reply.positions[wrong] + 1 });
    $("confirm-error").hidden = false;
    inputs[wrong].setAttribute("aria-invalid", "true");
    inputs[wrong].focus();
    return;
  }
  // Confirmed: the words leave the page for good; only the paper has them now.
  reply.confirmed = true;
  reply.words = null;
  $("codename-words").replaceChildren();
  for (const input of inputs) {
    input.value = "";
    input.removeAttribute("aria-invalid");
  }
  showCodenamePart("codename-done");
  $("codename-done").setAttribute("tabindex", "-1");
  $("codename-done").focus();
});

// ------------------------------------------------------------------ summary

// Check your answers (GOV.UK "summary list"): each answered question with his
// answer in words, and a "Change" link that takes him to it and back here.
const LONG_ANSWER = 300;

function summaryRow(label, answer, control) {
  const row = document.createElement("div");
  row.className = "check-row";
  const term = Object.assign(document.createElement("dt"), { textContent: label });
  const shown = answer.length > LONG_ANSWER ? `${answer.slice(0, LONG_ANSWER - 1)}…` : answer;
  const value = Object.assign(document.createElement("dd"), { textContent: shown });
  const action = Object.assign(document.createElement("dd"), { className: "change" });
  const link = Object.assign(document.createElement("a"), { href: `#${control.id}`, textContent: t("change") });
  link.dataset.change = control.id;
  link.append(Object.assign(document.createElement("span"), { className: "visually-hidden", textContent: ` ${label}` }));
  action.append(link);
  row.append(term, value, action);
  return row;
}

function renderSummary() {
  const answers = collectAnswers(form);
  const consentIds = new Set(questions(form).filter((el) => el.dataset.type === "consent").map((el) => el.dataset.field));
  const answered = Object.keys(answers).filter((id) => !consentIds.has(id)).length;
  const rows = [];
  for (const el of questions(form)) {
    if (el.dataset.type === "consent" || !(el.dataset.field in answers)) continue;
    rows.push(summaryRow(questionLabel(el), answerText(el), controlOf(el)));
  }
  const files = chooser.items.length
    ? `${chooser.items.map((item) => item.file.name).join(", ")} (${formatSize(chooser.totalBytes, lang, t)})`
    : t("check_no_files");
  rows.push(summaryRow(t("check_files"), files, $("files")));
  const replies = reply.choice === "codename" && reply.confirmed ? t("check_reply_yes") : t("check_reply_no");
  rows.push(summaryRow(t("check_replies"), replies, form.querySelector('input[name="_reply"]:checked') ?? $("reply-yes")));
  $("summary").replaceChildren(...rows);
  return { answers, answered };
}

// ------------------------------------------------------------------ sending

let busy = false;
const locked = [];

/** Freeze the answers while they are encrypted and sent (they must not change under us). */
function lock(on) {
  if (on) {
    for (const control of form.querySelectorAll("input, textarea, select, button")) {
      if (!control.disabled) {
        control.disabled = true;
        locked.push(control);
      }
    }
  } else {
    for (const control of locked.splice(0)) control.disabled = false;
  }
}

function showProgress(done, total) {
  const percent = total ? Math.floor((100 * done) / total) : 0;
  progressBar.value = percent;
  progressText.textContent = t("progress", {
    done: formatSize(done, lang, t),
    total: formatSize(total, lang, t),
    percent,
  });
}

const retryButton = $("upload-retry");
// What upload.js reports while a send is slow, stalled or stuck (the page's
// language, from app/templates/upload_messages.html).
const uploadText = translator(JSON.parse(config.uploadMessages || "{}"));
let resumeUpload = null;

retryButton.addEventListener("click", () => {
  const resume = resumeUpload;
  resumeUpload = null;
  retryButton.hidden = true;
  resume?.();
});

// Without a JIT (Tor Browser's Safer level) encrypting, not sending, is the
// slow part: while upload.js waits for the next piece to be encrypted
// (`preparing`), the bar follows the encryption, so it moves while a slow
// phone encrypts. Otherwise it shows only what was sent: encryption runs a
// piece or two ahead, and a bar following it would hide a slow or stalled line.
let sealedSoFar = 0;
let sendTotal = 0;
let preparing = false;

function showSealed(done) {
  sealedSoFar = Math.max(sealedSoFar, done);
  if (preparing && sendTotal > 0) showProgress(sealedSoFar, sendTotal);
}

/** The send's state (upload.js `sendSubmission`'s onState) on this page. */
function showSendState(state, info) {
  if (state !== "stuck") {
    retryButton.hidden = true;
    resumeUpload = null;
  }
  if (state === "working") {
    setState("working", info.percent === undefined ? t("working") : t("working_progress", { percent: info.percent }));
  } else if (state === "uploading") {
    progressBox.hidden = false;
    sendTotal = info.total;
    preparing = info.preparing === true;
    showProgress(preparing ? Math.max(info.done, sealedSoFar) : info.done, info.total);
    if (form.dataset.state !== "uploading") setState("uploading", t("uploading"));
  } else if (state === "offline") {
    setState("offline", t("offline"));
  } else if (state === "stalled") {
    setState("stalled", uploadText("stalled", { seconds: info.seconds }));
  } else if (state === "busy" || state === "resuming") {
    setState(state, uploadText(state));
  } else if (state === "stuck") {
    setState("stuck", uploadText("stuck"));
    alertBox.hidden = true;
    resumeUpload = info.resume;
    progressBox.hidden = false;
    retryButton.hidden = false;
    retryButton.disabled = false; // the rest of the form stays frozen
    retryButton.focus();
  }
}

async function send(answers) {
  const attachments = [];
  try {
    return await sendWith(answers, attachments);
  } finally {
    retryButton.hidden = true;
    resumeUpload = null;
    for (const a of attachments) a.sealed.dispose(); // forget every per-envelope key
  }
}

async function sendWith(answers, attachments) {
  const { sodium, intake, upload, manifest } = await getReady();
  setState("encrypting", t("encrypting"));
  sealedSoFar = 0;
  sendTotal = 0;
  preparing = false;

  const exif = chooser.cleaning && chooser.items.length ? await lazy("exif.js") : null;
  for (const item of chooser.items) {
    // Never silently: a file not cleaned goes only if he said so (checked before sending).
    if (needsDecision(item)) throw new Error("a file's hidden data was not decided on");
    let blob = item.file;
    if (exif) {
      item.clean ??= await exif.stripMetadata(item.file);
      blob = item.clean.blob;
    }
    const before = attachments.reduce((sum, a) => sum + a.sealed.size, 0); // sent in this order
    attachments.push({
      id: intake.hex(sodium.randombytes_buf(16)),
      name: item.file.name,
      type: item.file.type || "application/octet-stream",
      size: blob.size,
      sealed: intake.sealBlob(blob, { kind: "attachment", manifest, onProgress: (done) => showSealed(before + done) }),
    });
  }
  const sent = new Date();
  const useReply = reply.choice === "codename" && reply.confirmed && reply.mailbox;
  const content = (digests) =>
    intake.buildContent({
      lang,
      form: { id: formRef.id, version: formRef.version },
      answers,
      attachments: attachments.map((a, i) => ({ id: a.id, name: a.name, type: a.type, size: a.size, digest: digests[i] })),
      reply: useReply ? { x25519: reply.mailbox.x25519, mailbox: reply.mailbox.mailbox } : null,
      sent,
    });
  const formSize = intake.envelopeSize(content(attachments.map(() => PLACEHOLDER_DIGEST)).length, {
    kind: "submission",
    manifest,
  });
  // The exact sizes the server will check, known before anything is sent.
  const tooBig = attachments.find((a) => a.sealed.size > limits.max_envelope_bytes);
  if (tooBig) throw new TooLarge(t("file_too_large", { name: tooBig.name, limit: formatSize(limits.max_file_bytes, lang, t) }));
  if (formSize + attachments.reduce((sum, a) => sum + a.sealed.size, 0) > limits.max_submission_bytes) {
    throw new TooLarge(t("total_too_large", { limit: formatSize(limits.max_total_bytes, lang, t) }));
  }

  // The one upload flow of both pages (upload.js): proof of work, the
  // declaration, every attachment in resumable pieces, then the form, sealed
  // last, naming every attachment by its payload digest; finalised.
  const { id } = await upload.sendSubmission({
    kind: "submission",
    form: {
      size: formSize,
      async build(digests) {
        const plaintext = content(attachments.map((a) => intake.b64encode(digests.get(a.id))));
        const sealedForm = await intake.sealBytes(plaintext, { kind: "submission", manifest });
        plaintext.fill(0);
        return sealedForm.envelope;
      },
    },
    attachments,
    onState: showSendState,
    timing: config.uploadTiming,
  });
  return id;
}

function forget() {
  // Nothing he typed should survive the page: not in the DOM, not in a restored page.
  form.reset();
  chooser.clear();
  reply.words = null;
  reply.mailbox = null;
  $("codename-words").replaceChildren();
}

function finish(sid) {
  const mailboxUsed = reply.choice === "codename" && reply.confirmed;
  forget();
  form.hidden = true;
  const done = $("done");
  $("done-text").textContent = t("sent", { reference: sid.slice(0, 8) });
  const doneReply = $("done-reply");
  if (doneReply) doneReply.hidden = !mailboxUsed;
  done.hidden = false;
  setState("sent");
  // Only what matters now: the intro, the keys' fingerprint and the language links go.
  document.documentElement.dataset.sent = "true";
  // Back to this page's first history entry, so "back" leaves at once
  // rather than walking through steps that are gone (popstate ignores them).
  if (steps.entriesBehind > 0) history.go(-steps.entriesBehind);
  window.scrollTo(0, 0);
  done.focus();
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!steps.isLast) {
    next(); // Enter in a text field means "next", not "send"
    return;
  }
  if (busy) return;
  // Every step, in order: show the first one that needs attention.
  for (const step of steps.steps) {
    const bad = problemsIn(step);
    if (bad.length) {
      goTo(steps.steps.indexOf(step));
      showProblems(bad);
      return;
    }
  }
  const { answers, answered } = renderSummary();
  if (answered === 0 && chooser.items.length === 0) {
    showAlert(t("empty"));
    return;
  }
  showAlert(null);
  busy = true;
  lock(true);
  try {
    await inspectFiles();
    if (chooser.firstUndecided()) {
      // A file added a moment ago, looked into only now: ask before sending.
      goTo(steps.indexOfId("step-files"));
      lock(false);
      showProblems([chooser.firstUndecided()]);
      return;
    }
    finish(await send(answers));
  } catch (error) {
    console.error("intake: send failed:", error); // local only: helps whoever debugs this phone
    let text;
    if (error?.name === "ServerRefusal") text = t("server_error", { message: error.message });
    else if (error?.name === "NetworkFailure") text = t("offline_start");
    else if (error instanceof TooLarge) text = error.message;
    else if (error instanceof FormMismatch || error?.reason) text = failureMessage(error);
    else text = t("unexpected");
    setState("error", text);
    showAlert(text);
    progressBox.hidden = true;
  } finally {
    busy = false;
    lock(false);
  }
});

// ------------------------------------------------------------------ start

const safety = installSafety({
  onExit: forget,
  isDirty: () => form.dataset.state !== "sent" && (Object.keys(collectAnswers(form)).length > 0 || chooser.items.length > 0),
  leaveMessage: t("leave"),
  // Back on the first step, a reload, a closed tab: the browser asks first
  // while answers are unsent (never after sending, never for the quick exit).
  warnOnLeave: true,
  entriesBehind: () => steps.entriesBehind,
});

// The phone's back and forward move between steps.
window.addEventListener("popstate", (event) => {
  if (safety.leaving()) return;
  if (form.dataset.state === "sent" || busy) {
    // Once sent there are no steps to go back to; while sending, the step stays put.
    if (Number.isInteger(event.state?.depth)) steps.depth = event.state.depth;
    if (busy) steps.show(steps.index, { focus: false, force: true });
    return;
  }
  steps.restore(event.state);
});

$("done-leave").addEventListener("click", () => safety.exit());

sendButton.disabled = false;
steps.start({ answersKept: Object.keys(collectAnswers(form)).length > 0 });
setState("loading", t("loading"));
getReady().catch(() => {}); // failures are shown by getReady itself
