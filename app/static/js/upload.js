// Talking to the server: one JSON error shape, and resumable envelope uploads.
//
// An envelope is uploaded in pieces of the server's `upload.chunk` bytes.
// A dropped connection, a busy server or a rate limit is waited out, then the
// upload resumes from the offset the server says it holds, regenerating the
// envelope's bytes from there (SealedEnvelope.parts is deterministic), so
// nothing is sent twice, nothing is skipped and no file is held in memory.

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

/**
 * One API request. Never sends cookies or a referrer, never caches.
 * Throws NetworkFailure (no answer) or ServerRefusal (an error answer).
 */
export async function api(method, path, body) {
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
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new NetworkFailure(error);
  }
  let answer = null;
  try {
    answer = await response.json();
  } catch (error) {
    // A cut connection can also fail while the body is read.
    if (response.ok) throw new NetworkFailure(error);
  }
  if (!response.ok) throw new ServerRefusal(response.status, answer);
  return answer;
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

/**
 * Upload one envelope of `size` bytes to `base` (/api/v1/submissions/{sid}/envelopes/{eid}).
 *
 * @param {object} o
 * @param {string} o.base the envelope's URL path
 * @param {number} o.size its exact size, as declared
 * @param {(offset: number) => AsyncIterable<Uint8Array>} o.partsFrom the envelope's bytes from `offset` on, in pieces
 * @param {(offset: number) => void} [o.onProgress] bytes the server holds
 * @param {(waiting: boolean) => void} [o.onWaiting] true while a failure is being waited out
 */
export async function uploadEnvelope({ base, size, partsFrom, onProgress, onWaiting }) {
  let offset = null; // unknown until the server says (a retried send may find bytes already there)
  let delay = 500;
  while (offset === null || offset < size) {
    try {
      if (offset === null) {
        offset = (await api("GET", base)).offset;
        onProgress?.(offset);
        if (offset >= size) break;
      }
      const source = partsFrom(offset);
      const parts = (source[Symbol.asyncIterator] ?? source[Symbol.iterator]).call(source);
      // While one piece travels, the next is encrypted: on a slow phone on a
      // slow line, neither waits for the other. At most two pieces in memory.
      let upcoming = parts.next();
      try {
        for (;;) {
          const { value: part, done } = await upcoming;
          if (done) break;
          upcoming = parts.next();
          Promise.resolve(upcoming).catch(() => {}); // awaited (or dropped) below
          const answer = await api("PUT", `${base}?offset=${offset}`, part);
          const expected = offset + part.length;
          offset = answer.offset;
          delay = 500;
          onWaiting?.(false);
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
      onWaiting?.(true);
      const retryAfter = Number(error.detail?.retry_after);
      await waitForNetwork(Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : delay);
      delay = Math.min(delay * 2, 8000);
      offset = null;
    }
  }
  onWaiting?.(false);
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
