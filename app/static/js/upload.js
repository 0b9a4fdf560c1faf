// Talking to the server, and the one way both pages send: the intake page's
// submission and the mailbox's follow-up go through `sendSubmission` below
// (proof of work, declaring the envelopes, resumable uploads, finalising).
//
// An envelope is uploaded in pieces of the server's `upload.chunk` bytes.
// A dropped connection, a busy server or a rate limit is waited out, then the
// upload resumes from the offset the server says it holds, regenerating the
// envelope's bytes from there (SealedEnvelope.parts is deterministic), so
// nothing is sent twice, nothing is skipped and no file is held in memory.
//
// A request that stops moving is not waited on for ever: each one has a
// deadline for *progress*, not for completion. A piece crawling over 3G is
// left alone however long it takes (its progress is reported every few
// kilobytes, so he sees it move); one that has moved nothing for
// `stallSeconds` is aborted and tried again after a pause. After `attempts`
// failures in a row, while the browser believes it is online, the send
// pauses ("stuck") until he presses "Try again" (or the browser comes back
// online), and resumes from the last piece the server stored.

import { solve, stepwise } from "./pow.js";

/** A server error answer, as {status, code, message, detail}: the server's one JSON error shape. */
export class ServerRefusal extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.name = "ServerRefusal";
    this.status = status;
    this.code = error.code || "http-error";
    this.detail = error.detail || {};
  }
}

/** A request that never got an answer (offline, connection cut). */
export class NetworkFailure extends Error {
  constructor(cause) {
    super("network failure");
    this.name = "NetworkFailure";
    this.cause = cause;
  }
}

/** A request that made no progress for `seconds` and was aborted (a stalled line). */
export class RequestStalled extends NetworkFailure {
  constructor(seconds) {
    super(new Error(`no progress for ${seconds} s`));
    this.name = "RequestStalled";
    this.seconds = seconds;
  }
}

/**
 * How long a request may stand still, and how often a send retries before it
 * asks him. A page may override any of them (mailbox-page.js and
 * intake-page.js read `data-upload-timing` on their config element).
 */
export const DEFAULT_TIMING = Object.freeze({
  stallSeconds: 20, // no progress for this long: abort the request, retry
  attempts: 3, // failures in a row (while online) before the send pauses for him
  firstDelayMs: 500, // the first pause after a failure, doubled each time
  maxDelayMs: 8000,
});

/** `DEFAULT_TIMING` with the valid numbers of `overrides` (a page's JSON, possibly absent). */
export function uploadTiming(overrides) {
  let given = {};
  try {
    given = typeof overrides === "string" ? JSON.parse(overrides) : (overrides ?? {});
  } catch (_) {
    given = {};
  }
  const timing = { ...DEFAULT_TIMING };
  for (const key of Object.keys(DEFAULT_TIMING)) {
    const value = Number(given?.[key]);
    if (Number.isFinite(value) && value > 0) timing[key] = value;
  }
  return timing;
}

/**
 * One API request. Never sends cookies or a referrer, never caches.
 * With `stallMs`, a request without an answer by then is aborted (RequestStalled).
 * Throws NetworkFailure (no answer) or ServerRefusal (an error answer).
 */
export async function api(method, path, body, { stallMs } = {}) {
  const init = {
    method,
    headers: {},
    credentials: "omit",
    cache: "no-store",
    referrerPolicy: "no-referrer",
    redirect: "error",
  };
  if (body instanceof Uint8Array) {
    init.body = body;
    init.headers["Content-Type"] = "application/octet-stream";
  } else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  let timer = null;
  let stalled = false;
  if (stallMs) {
    const controller = new AbortController();
    init.signal = controller.signal;
    timer = setTimeout(() => {
      stalled = true;
      controller.abort();
    }, stallMs);
  }
  try {
    let response;
    try {
      response = await fetch(path, init);
    } catch (error) {
      throw stalled ? new RequestStalled(stallMs / 1000) : new NetworkFailure(error);
    }
    let answer = null;
    try {
      answer = await response.json();
    } catch (error) {
      // A cut connection can also fail while the body is read.
      if (stalled) throw new RequestStalled(stallMs / 1000);
      if (response.ok) throw new NetworkFailure(error);
    }
    if (!response.ok) throw new ServerRefusal(response.status, answer);
    return answer;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * PUT one piece of an envelope, reporting the bytes handed to the network as
 * they go (`onSent(bytes)`, every few kilobytes on a slow line). Aborted when
 * neither the body nor the answer has moved for `stallMs`.
 *
 * XMLHttpRequest, not fetch: fetch cannot report an upload's progress, and
 * without it a 1 MiB piece on 3G shows nothing for 20 s, like a dead line.
 * No redirect is followed silently: an answer from another URL is refused.
 * (Same-origin XHR would send cookies; this site sets none.)
 */
export function putPart(path, bytes, { stallMs, onSent } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    let timer = null;
    let settled = false;
    const settle = (outcome, value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outcome(value);
    };
    const moved = () => {
      if (!stallMs || settled) return;
      clearTimeout(timer);
      timer = setTimeout(() => {
        settle(reject, new RequestStalled(stallMs / 1000));
        xhr.abort();
      }, stallMs);
    };
    xhr.open("PUT", path);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.upload.addEventListener("progress", (event) => {
      moved();
      onSent?.(Math.min(event.loaded, bytes.length));
    });
    xhr.addEventListener("progress", moved); // the answer arriving
    xhr.addEventListener("readystatechange", moved);
    const failed = () => settle(reject, new NetworkFailure(new Error("the request failed")));
    xhr.addEventListener("error", failed);
    xhr.addEventListener("abort", failed);
    xhr.addEventListener("timeout", failed);
    xhr.addEventListener("load", () => {
      if (new URL(xhr.responseURL || path, location.href).href !== new URL(path, location.href).href) {
        settle(reject, new NetworkFailure(new Error("redirected"))); // as fetch's redirect: "error"
        return;
      }
      let answer = null;
      try {
        answer = JSON.parse(xhr.responseText);
      } catch (_) {
        answer = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        if (answer === null) settle(reject, new NetworkFailure(new Error("unreadable answer")));
        else settle(resolve, answer);
      } else {
        settle(reject, new ServerRefusal(xhr.status, answer));
      }
    });
    moved();
    xhr.send(bytes);
  });
}

/** Failures worth waiting out: no answer, a busy or overloaded server. */
export function isTransient(error) {
  if (error instanceof NetworkFailure) return true;
  if (!(error instanceof ServerRefusal)) return false;
  return [408, 429, 500, 502, 503, 504].includes(error.status) || error.code === "upload-busy";
}

/** Wait `ms`, or less if the browser says the connection is back. */
export function waitForNetwork(ms) {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      globalThis.removeEventListener("online", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    globalThis.addEventListener("online", done);
  });
}

/** Run `request` until it answers, waiting out transient failures (for idempotent requests). */
export async function persist(request, onWaiting) {
  let delay = 500;
  for (;;) {
    try {
      const answer = await request();
      onWaiting?.(false);
      return answer;
    } catch (error) {
      if (!isTransient(error)) throw error;
      onWaiting?.(true);
      await waitForNetwork(delay);
      delay = Math.min(delay * 2, 8000);
    }
  }
}

/**
 * How a send waits out failures: a pause that doubles, the server's
 * Retry-After when it names one, and after `timing.attempts` failures in a
 * row (the browser online, so waiting alone will not help) a stop until he
 * says "Try again". Every wait is reported through `onState`:
 * "offline" (no answer), "stalled" ({seconds}: a request stood still),
 * "busy" (the server asked to wait), "stuck" ({resume}: waiting for him).
 */
class Patience {
  constructor(timing, onState) {
    this.timing = timing;
    this.onState = onState;
    this.stallMs = timing.stallSeconds * 1000;
    this.succeeded();
  }

  /** A request went through: the next failure starts counting afresh. */
  succeeded() {
    this.failures = 0;
    this.delay = this.timing.firstDelayMs;
  }

  /** Wait after the transient failure `error`, however long is right. */
  async after(error) {
    if (error instanceof RequestStalled) this.onState("stalled", { seconds: error.seconds });
    else if (error instanceof NetworkFailure) this.onState("offline", {});
    else this.onState("busy", {});
    // Offline, the browser will say when it is back ("online"): only failures
    // it cannot explain count towards asking him.
    if (globalThis.navigator?.onLine !== false) this.failures += 1;
    if (this.failures >= this.timing.attempts) {
      await new Promise((resolve) => {
        const resume = () => {
          globalThis.removeEventListener("online", resume);
          resolve();
        };
        globalThis.addEventListener("online", resume);
        this.onState("stuck", { resume, failures: this.failures });
      });
      this.succeeded();
      this.onState("resuming", {});
      return;
    }
    const retryAfter = Number(error?.detail?.retry_after);
    await waitForNetwork(Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : this.delay);
    this.delay = Math.min(this.delay * 2, this.timing.maxDelayMs);
  }
}

/**
 * Upload one envelope of `size` bytes to `base` (/api/v1/submissions/{sid}/envelopes/{eid}).
 *
 * @param {object} o
 * @param {string} o.base the envelope's URL path
 * @param {number} o.size its exact size, as declared
 * @param {(offset: number) => AsyncIterable<Uint8Array>|Iterable<Uint8Array>} o.partsFrom the envelope's bytes from `offset` on, in pieces
 * @param {(bytes: number, how?: {preparing: boolean}) => void} [o.onProgress] bytes sent so far (the
 *   server's offset plus what is on the way); `preparing` while the next piece is still being encrypted
 * @param {Patience} o.patience how failures are waited out (shared by one send)
 */
async function uploadEnvelope({ base, size, partsFrom, onProgress, patience }) {
  let offset = null; // unknown until the server says (a retried send may find bytes already there)
  const stallMs = patience.stallMs;
  while (offset === null || offset < size) {
    try {
      if (offset === null) {
        offset = (await api("GET", base, undefined, { stallMs })).offset;
        onProgress?.(offset);
        if (offset >= size) break;
      }
      const source = partsFrom(offset);
      const parts = (source[Symbol.asyncIterator] ?? source[Symbol.iterator]).call(source);
      // While one piece travels, the next is encrypted: on a slow phone on a
      // slow line, neither waits for the other. At most two pieces in memory.
      let upcoming = parts.next();
      let ready = false;
      Promise.resolve(upcoming).then(() => (ready = true), () => {});
      try {
        for (;;) {
          // Nothing travels while the next piece is still being encrypted
          // (a phone without a JIT): say so, so the page can show that instead.
          if (!ready) onProgress?.(offset, { preparing: true });
          const { value: part, done } = await upcoming;
          if (done) break;
          upcoming = parts.next();
          ready = false;
          Promise.resolve(upcoming).then(() => (ready = true), () => {}); // awaited (or dropped) below
          const from = offset;
          const answer = await putPart(`${base}?offset=${from}`, part, {
            stallMs,
            onSent: (sent) => onProgress?.(from + sent),
          });
          const expected = from + part.length;
          offset = answer.offset;
          patience.succeeded();
          onProgress?.(offset);
          if (offset !== expected) break; // the server holds something else: regenerate from there
        }
      } finally {
        await Promise.resolve(parts.return?.()).catch(() => {});
      }
    } catch (error) {
      if (error instanceof ServerRefusal && error.code === "upload-offset-mismatch" && Number.isSafeInteger(error.detail.offset)) {
        offset = error.detail.offset; // the server holds more (or less) than we thought
        continue;
      }
      if (!isTransient(error)) throw error;
      // Wait for the connection (or the server), then ask where to resume.
      await patience.after(error);
      offset = null;
    }
  }
}

/** `bytes` from `offset` on, in pieces of `partSize` (uploadEnvelope's `partsFrom`). */
export function bytesParts(bytes, partSize) {
  return function* (offset) {
    for (let at = offset; at < bytes.length; at += partSize) {
      yield bytes.subarray(at, Math.min(at + partSize, bytes.length));
    }
  };
}

// A price that rose while he solved is paid again at once, this often at most.
const STALE_PROOFS = 3;

/**
 * Declare the envelopes after a proof of work. A lost answer is retried with
 * a fresh challenge (an orphaned declaration expires on the server by
 * itself); a rate limit resends the same, unspent proof once waited out; a
 * price that rose while it was solved ("pow-stale", the site is busy) is
 * paid at the new price, a couple of times at most, instead of failing.
 */
async function declare(kind, envelopes, patience, onState) {
  const stallMs = patience.stallMs;
  let pow = null;
  let stale = 0;
  let resent = false; // the proof being sent was kept across a rate limit
  for (;;) {
    try {
      if (pow === null) {
        resent = false;
        const challenge = await api("POST", "/api/v1/challenges", {}, { stallMs });
        onState("working", {});
        const nonce = await solve(challenge.challenge, challenge.difficulty, {
          onProgress: stepwise((percent) => onState("working", { percent })),
        });
        pow = { challenge: challenge.challenge, nonce };
      }
      // No mailbox id: the server would only link this submission to the
      // applicant's others and to his mailbox reads. The verifier finds it
      // inside the sealed form.
      const created = await api("POST", "/api/v1/submissions", { kind, envelopes, pow }, { stallMs });
      patience.succeeded();
      return created;
    } catch (error) {
      if (error instanceof ServerRefusal && error.code === "pow-stale") {
        stale += 1;
        if (stale >= STALE_PROOFS) throw error;
        pow = null;
        continue;
      }
      if (error instanceof ServerRefusal && resent && error.code?.startsWith("pow-")) {
        // The proof kept across a rate limit expired meanwhile: pay afresh, once.
        resent = false;
        pow = null;
        continue;
      }
      if (!isTransient(error)) throw error;
      // Only a rate limit is known to have left the proof unspent.
      resent = pow !== null && error instanceof ServerRefusal && error.code === "rate-limited";
      if (!resent) pow = null;
      await patience.after(error);
    }
  }
}

/**
 * Send one submission or follow-up: the one upload flow of both pages.
 *
 * @param {object} opts
 * @param {"submission"|"followup"} opts.kind
 * @param {{size: number, build: (digests: Map<string, Uint8Array>) => Promise<Uint8Array>}} opts.form
 *   the form envelope's exact size, known in advance, and a function sealing it
 *   once the attachments' payload digests (by attachment id) are known
 * @param {Array<{id: string, sealed: object}>} opts.attachments sealed (SealedEnvelope) attachments
 * @param {(state: string, info: object) => void} [opts.onState] "working" ({percent} once the
 *   proof of work's estimate has moved), "uploading" ({done, total} bytes sent; `preparing`
 *   while nothing travels because the next piece is still being encrypted), "offline",
 *   "busy", "stalled" ({seconds}), "stuck" ({resume}: call it to try again), "resuming"
 * @param {object|string} [opts.timing] overrides of DEFAULT_TIMING
 * @returns {Promise<{id: string, received: string}>}
 */
export async function sendSubmission({ kind, form, attachments, onState = () => {}, timing }) {
  const patience = new Patience(uploadTiming(timing), onState);
  const envelopes = [{ id: "form", size: form.size }, ...attachments.map((a) => ({ id: a.id, size: a.sealed.size }))];
  const created = await declare(kind, envelopes, patience, onState);
  const chunk = created.upload.chunk;
  const base = (eid) => `/api/v1/submissions/${created.id}/envelopes/${eid}`;
  const total = envelopes.reduce((sum, e) => sum + e.size, 0);
  let done = 0;
  const progress = () => {
    const before = done;
    return (bytes, how) => onState("uploading", { done: before + bytes, total, preparing: how?.preparing === true });
  };
  onState("uploading", { done: 0, total });

  // Attachments first: each is encrypted once, as it is sent, and its digest
  // comes out of that pass for the form to name.
  const digests = new Map();
  for (const { id, sealed } of attachments) {
    await uploadEnvelope({
      base: base(id),
      size: sealed.size,
      partsFrom: (offset) => sealed.parts({ offset, partSize: chunk }),
      onProgress: progress(),
      patience,
    });
    // Settled by the upload's pass; digest() runs one more only if the server
    // already held every byte (a retried last piece) so no full pass ran.
    digests.set(id, await sealed.digest());
    sealed.dispose();
    done += sealed.size;
  }
  const envelope = await form.build(digests);
  if (envelope.length !== form.size) throw new Error("the form envelope is not the size declared");
  await uploadEnvelope({
    base: base("form"),
    size: envelope.length,
    partsFrom: bytesParts(envelope, chunk),
    onProgress: progress(),
    patience,
  });
  // Finalising is idempotent: safe to repeat across a dropped connection.
  for (;;) {
    try {
      const finalised = await api("POST", `/api/v1/submissions/${created.id}/finalise`, {}, { stallMs: patience.stallMs });
      return { id: created.id, received: finalised.received };
    } catch (error) {
      if (!isTransient(error)) throw error;
      await patience.after(error);
    }
  }
}
