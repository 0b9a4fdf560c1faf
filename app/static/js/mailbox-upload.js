// Sending a follow-up: proof of work, declaring the submission, resumable
// uploads of every envelope (upload.js, shared with the intake page),
// finalising.
//
// It holds no plaintext: it sees sealed envelopes only, and builds the form
// envelope through a callback once the attachments' payload digests are
// known, so each file is encrypted in one pass while it is uploaded.

import { solve, stepwise } from "./pow.js";
import { api, persist, uploadEnvelope } from "./upload.js";

/** `bytes` from `offset` on, in pieces of `partSize` (upload.js's `partsFrom`). */
export function bytesParts(bytes, partSize) {
  return async function* (offset) {
    for (let at = offset; at < bytes.length; at += partSize) {
      yield bytes.subarray(at, Math.min(at + partSize, bytes.length));
    }
  };
}

/**
 * Declare the envelopes after a proof of work. When the price rose while it
 * was being solved (the site is busy: "pow-stale"), a fresh challenge at the
 * new price is solved, a couple of times at most, instead of failing.
 */
async function declare(kind, form, attachments, onState) {
  for (let attempt = 1; ; attempt += 1) {
    const challenge = await api("POST", "/api/v1/challenges", {});
    onState("working");
    const nonce = await solve(challenge.challenge, challenge.difficulty, {
      onProgress: stepwise((percent) => onState("working", percent)),
    });
    try {
      return await api("POST", "/api/v1/submissions", {
        // No mailbox id: the server would only link this submission to the
        // applicant's others and to his mailbox reads. The verifier finds it
        // inside the sealed form.
        kind,
        envelopes: [
          { id: "form", size: form.size },
          ...attachments.map((a) => ({ id: a.id, size: a.sealed.size })),
        ],
        pow: { challenge: challenge.challenge, nonce },
      });
    } catch (error) {
      if (error?.code !== "pow-stale" || attempt >= 3) throw error;
    }
  }
}

/**
 * Send one submission or follow-up.
 *
 * @param {object} opts
 * @param {"submission"|"followup"} opts.kind
 * @param {{size: number, build: (digests: Map<string, Uint8Array>) => Promise<Uint8Array>}} opts.form
 *   the form envelope's exact size, known in advance, and a function sealing it
 *   once the attachments' payload digests (by attachment id) are known
 * @param {Array<{id: string, sealed: object}>} opts.attachments sealed (SealedEnvelope) attachments
 * @param {(state: string, percent?: number) => void} [opts.onState] "working" (with the
 *   proof of work's estimated percent once it has moved), "uploading", "offline"
 * @returns {Promise<{id: string, received: string}>}
 */
export async function sendSubmission({ kind, form, attachments, onState = () => {} }) {
  const created = await declare(kind, form, attachments, onState);
  const chunk = created.upload.chunk;
  const base = (eid) => `/api/v1/submissions/${created.id}/envelopes/${eid}`;
  const total = form.size + attachments.reduce((sum, a) => sum + a.sealed.size, 0);
  let done = 0;
  const hooks = () => {
    const before = done;
    return {
      onProgress: (offset) => onState("uploading", Math.floor((100 * (before + offset)) / total)),
      onWaiting: (waiting) => {
        if (waiting) onState("offline");
      },
    };
  };
  onState("uploading", 0);

  // Attachments first: each is encrypted once, as it is sent, and its digest
  // comes out of that pass for the form to name.
  const digests = new Map();
  for (const { id, sealed } of attachments) {
    await uploadEnvelope({
      base: base(id),
      size: sealed.size,
      partsFrom: (offset) => sealed.parts({ offset, partSize: chunk }),
      ...hooks(),
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
    ...hooks(),
  });
  // Finalising is idempotent: safe to repeat across a dropped connection.
  const finalised = await persist(
    () => api("POST", `/api/v1/submissions/${created.id}/finalise`, {}),
    (waiting) => waiting && onState("offline"),
  );
  return { id: created.id, received: finalised.received };
}
