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
 * One step on screen at a time. Steps never touch the history (the back
 * button leaves the page, as it would any page); `history.replaceState`
 * records the step only in the single entry this page has.
 */
export class Steps {
  constructor(form, t, { onShow } = {}) {
    this.form = form;
    this.t = t;
    this.steps = [...form.querySelectorAll("[data-step]")];
    this.counter = form.querySelector("#step-count");
    this.onShow = onShow;
    this.index = 0;
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

  show(index, { focus = true } = {}) {
    this.index = Math.max(0, Math.min(index, this.steps.length - 1));
    this.steps.forEach((step, i) => {
      step.hidden = i !== this.index;
    });
    if (this.counter) this.counter.textContent = this.t("step", { n: this.index + 1, total: this.steps.length });
    history.replaceState({ step: this.index }, "");
    this.onShow?.(this.current);
    if (focus) {
      window.scrollTo(0, 0);
      this.current.querySelector("h2")?.focus();
    }
  }
}
