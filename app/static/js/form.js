// The intake form in the page: steps, answers, checks (the chosen files are
// files.js's, shared with the mailbox page).
//
// Works before the crypto library has arrived: it needs nothing but the
// HTML the server rendered from the form definition (docs/FORMS.md). Every
// question's wrapper carries data-field, data-type and data-required.

/** Messages of the page's language, with {placeholders} filled in. */
export function translator(messages) {
  return (key, values = {}) =>
    (messages[key] ?? key).replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

const TEXT_TYPES = new Set(["text", "textarea"]);

/** Every question of the form, in page order. */
export function questions(form) {
  return [...form.querySelectorAll("[data-field]")];
}

/**
 * A question's answer as the submission carries it (docs/FORMS.md), or
 * undefined when unanswered; {error} for a half-answered date.
 */
export function fieldValue(el) {
  switch (el.dataset.type) {
    case "text":
    case "textarea": {
      const value = el.querySelector("input, textarea").value.trim();
      return value ? value : undefined;
    }
    case "choice":
    case "yesno":
      return el.querySelector("input:checked")?.value;
    case "multichoice": {
      const values = [...el.querySelectorAll("input:checked")].map((input) => input.value);
      return values.length ? values : undefined;
    }
    case "date": {
      const [month, year] = [...el.querySelectorAll("select")].map((select) => select.value);
      if (!year && !month) return undefined;
      if (!year) return { error: "date_year" };
      return month ? `${year}-${month}` : year;
    }
    case "consent":
      return el.querySelector("input").checked ? "yes" : undefined;
    default:
      return undefined;
  }
}

/** Why a question's answer cannot be sent (a translated message), or null. */
export function fieldProblem(el, t) {
  const value = fieldValue(el);
  if (value && value.error) return t(value.error);
  if (value === undefined) {
    if (el.dataset.required !== "true") return null;
    return t(el.dataset.type === "consent" ? "consent_required" : "required");
  }
  if (TEXT_TYPES.has(el.dataset.type)) {
    const max = Number(el.querySelector("input, textarea").maxLength);
    if (max > 0 && value.length > max) return t("too_long", { max });
  }
  return null;
}

/** Show (or clear, with null) a question's error, where a screen reader finds it. */
export function showProblem(el, message) {
  el.classList.toggle("invalid", message !== null);
  const error = el.querySelector(".error");
  if (error) {
    error.textContent = message ?? "";
    error.hidden = message === null;
  }
  for (const control of el.querySelectorAll("input, textarea, select")) {
    if (message === null) control.removeAttribute("aria-invalid");
    else control.setAttribute("aria-invalid", "true");
  }
}

/** Check every question inside `root`; returns the wrappers with a problem. */
export function checkQuestions(root, t) {
  const bad = [];
  for (const el of questions(root)) {
    const problem = fieldProblem(el, t);
    showProblem(el, problem);
    if (problem !== null) bad.push(el);
  }
  return bad;
}

/** All answers, keyed by field id; unanswered questions are left out. */
export function collectAnswers(form) {
  const answers = {};
  for (const el of questions(form)) {
    const value = fieldValue(el);
    if (value !== undefined && !value.error) answers[el.dataset.field] = value;
  }
  return answers;
}

/** First control of a question (or of a file awaiting his decision), to move the focus to. */
export function firstControl(el) {
  return el.querySelector("input, textarea, select, button[data-accept]");
}

// What must match the signed form definition: ids, types, required flags and
// option values (labels are the page language's business, not compared).
function shapeEntry(id, type, required, options) {
  return JSON.stringify([id, type, required, options]);
}

/** The shape of the form as rendered in this page. */
export function renderedShape(form) {
  return questions(form)
    .map((el) => {
      const type = el.dataset.type;
      const options =
        type === "choice" || type === "multichoice"
          ? [...el.querySelectorAll("input[data-option]")].map((input) => input.value)
          : [];
      return shapeEntry(el.dataset.field, type, el.dataset.required === "true", options);
    })
    .sort();
}

/** The shape of a form definition (the verified manifest's `form`). */
export function signedShape(definition) {
  const out = [];
  for (const section of definition?.sections ?? []) {
    for (const field of section?.fields ?? []) {
      out.push(
        shapeEntry(
          field.id,
          field.type,
          field.required === true,
          (field.options ?? []).map((option) => option.value),
        ),
      );
    }
  }
  return out.sort();
}

export function sameShape(a, b) {
  return a.length === b.length && a.every((entry, i) => entry === b[i]);
}

/**
 * A question's label as shown (without the "(required)" mark), for the
 * error summary and the check-your-answers list.
 */
export function questionLabel(el) {
  const label = el.querySelector("legend, label");
  if (!label) return "";
  const copy = label.cloneNode(true);
  for (const mark of copy.querySelectorAll(".req, input")) mark.remove();
  return copy.textContent.replace(/\s+/g, " ").trim();
}

/**
 * A question's answer in words, as he chose it: option labels rather than
 * codes, the month's name rather than its number. Empty when unanswered.
 */
export function answerText(el) {
  const type = el.dataset.type;
  if (type === "text" || type === "textarea") return el.querySelector("input, textarea").value.trim();
  if (type === "choice" || type === "yesno" || type === "multichoice" || type === "consent") {
    return [...el.querySelectorAll("input:checked")]
      .map((input) => input.closest("label")?.textContent.replace(/\s+/g, " ").trim() ?? input.value)
      .join("; ");
  }
  if (type === "date") {
    const [month, year] = [...el.querySelectorAll("select")];
    if (!year?.value) return "";
    return month?.value ? `${month.selectedOptions[0].textContent.trim()} ${year.value}` : year.value;
  }
  return "";
}

/**
 * Options that exclude every other one ("No documents"): ticking one clears
 * the rest of its question, ticking any other clears it (the GOV.UK "or"
 * pattern). The server marks them with data-exclusive.
 */
export function keepExclusive(event) {
  const input = event.target;
  if (!(input instanceof HTMLInputElement) || input.type !== "checkbox" || !input.checked) return;
  const field = input.closest('[data-type="multichoice"]');
  if (!field) return;
  for (const other of field.querySelectorAll("input[type=checkbox]:checked")) {
    if (other === input) continue;
    if ("exclusive" in input.dataset || "exclusive" in other.dataset) other.checked = false;
  }
}

/**
 * One step on screen at a time, each step one entry in the browser's
 * history: the phone's back gesture goes to the previous step, forward
 * comes back, and neither leaves the page. Every entry has this page's own
 * address (no fragment, no query) and a state holding two numbers, the step
 * and how many entries this page added before it (`depth`), so nothing he
 * typed ever reaches the history, and the quick exit knows how far back the
 * page's first entry is.
 */
export class Steps {
  constructor(form, t, { onShow } = {}) {
    this.form = form;
    this.t = t;
    this.steps = [...form.querySelectorAll("[data-step]")];
    this.counter = form.querySelector("#step-count");
    this.onShow = onShow;
    this.index = 0;
    this.depth = 0;
    this.base = 0; // the depth of the entry this document was loaded into
  }

  /** How many entries back this document's first one is (the quick exit rewinds them). */
  get entriesBehind() {
    return Math.max(0, this.depth - this.base);
  }

  get current() {
    return this.steps[this.index];
  }

  get isLast() {
    return this.index === this.steps.length - 1;
  }

  indexOf(element) {
    return this.steps.findIndex((step) => step.contains(element));
  }

  indexOfId(id) {
    return this.steps.findIndex((step) => step.id === id);
  }

  /**
   * Show step `index`. `record`: "push" adds a history entry (a step he
   * moved to), "replace" rewrites the current one, "none" leaves the
   * history alone (the browser moved, see `restore`). `force` pushes even
   * for the step on screen (the browser moved away while it must stay).
   */
  show(index, { focus = true, record = "push", force = false } = {}) {
    const target = Math.max(0, Math.min(index, this.steps.length - 1));
    if (record === "push" && (target !== this.index || force)) {
      this.depth += 1;
      history.pushState({ step: target, depth: this.depth }, "");
    } else if (record !== "none") {
      history.replaceState({ step: target, depth: this.depth }, "");
    }
    this.index = target;
    this.steps.forEach((step, i) => {
      step.hidden = i !== this.index;
    });
    this.form.dataset.step = this.current.id;
    document.documentElement.dataset.firstStep = String(this.index === 0);
    if (this.counter) this.counter.textContent = this.t("step", { n: this.index + 1, total: this.steps.length });
    this.onShow?.(this.current);
    if (focus) {
      window.scrollTo(0, 0);
      this.current.querySelector("h2")?.focus();
    }
  }

  /** The entry the browser moved to (back, forward), if it is one of ours. */
  restore(state, options = {}) {
    if (!state || !Number.isInteger(state.step) || !Number.isInteger(state.depth)) return false;
    this.depth = state.depth;
    this.show(state.step, { ...options, record: "none" });
    return true;
  }

  /**
   * Where the page starts. A reload finds the entry's step in history.state,
   * but the answers are gone with the old page (nothing is stored, and the
   * form asks the browser not to restore them): then it starts again at the
   * first step. Should a browser restore the answers, the step is kept.
   */
  start({ answersKept }) {
    const state = history.state;
    if (state && Number.isInteger(state.depth)) this.depth = state.depth;
    // Older entries (a reload's) belong to another document: never rewound into.
    this.base = this.depth;
    const step = state && Number.isInteger(state.step) && answersKept ? state.step : 0;
    this.show(step, { focus: false, record: "replace" });
  }

  /** Back one entry, as the browser's back does; on the page's first entry, one step back. */
  back() {
    if (this.entriesBehind > 0) history.back();
    else this.show(this.index - 1, { record: "replace" });
  }
}
