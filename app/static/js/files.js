// The files he chose, shared by the intake page and the mailbox page's
// follow-up form: the limits checked as he picks them, each file looked into
// for hidden data (exif.js), and his own decision for every file whose hidden
// data the page cannot remove (HEIC, video, PDF, a broken image). Such a file
// is never sent silently: it waits, with a warning in its row, until he says
// "send it anyway" or "remove it".
//
// Needs nothing but the page's list elements and a translator; exif.js is
// handed in by each page (loaded its own way, always integrity-checked).

/** "1,5 MB": sizes as phones count them (1 MB = 1,000,000 bytes). */
export function formatSize(bytes, lang, t) {
  const units = ["unit_b", "unit_kb", "unit_mb", "unit_gb"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = value >= 10 || unit === 0 ? 0 : 1;
  const number = new Intl.NumberFormat(lang, { maximumFractionDigits: digits }).format(value);
  return `${number}\u00a0${t(units[unit])}`;
}

/**
 * Whether he must decide about this file before it is sent: the page could
 * not remove its hidden data (not a JPEG, PNG or WebP, or a broken one), and
 * he has not yet said "send it anyway". A file not yet looked into counts as
 * undecided: nothing passes silently.
 */
export function needsDecision(item) {
  if (item.accepted) return false;
  return item.clean === null || item.clean.kind === null || item.clean.failed;
}

/** Looked into, and its hidden data could not be removed. */
function uncleaned(item) {
  return item.clean !== null && (item.clean.kind === null || item.clean.failed);
}

/**
 * The files he chose, with the limits checked as he picks them (the server
 * refuses the same limits, but only after he has waited for the upload).
 */
export class FileChooser {
  constructor({ input, list, total, error, limits, lang, t, onChange }) {
    Object.assign(this, { input, list, totalEl: total, errorEl: error, limits, lang, t, onChange });
    this.items = [];
    this.cleaning = true; // remove hidden data from photos (the page's checkbox)
    input.addEventListener("change", () => {
      this.add([...input.files]);
      input.value = ""; // the same file may be chosen again after removing it
    });
    list.addEventListener("click", (event) => {
      const accept = event.target.closest("button[data-accept]");
      if (accept) {
        // His choice for this one file, kept with it until it is sent or removed.
        const index = Number(accept.dataset.accept);
        this.items[index].accepted = true;
        this.render();
        this.list.children[index]?.querySelector("button")?.focus();
        return;
      }
      const button = event.target.closest("button[data-remove]");
      if (!button) return;
      const index = Number(button.dataset.remove);
      this.items.splice(index, 1);
      this.render();
      this.onChange?.();
      (this.list.querySelector("button") ?? this.input).focus();
    });
    this.render();
  }

  get totalBytes() {
    return this.items.reduce((sum, item) => sum + item.file.size, 0);
  }

  add(files) {
    const problems = [];
    const { t, limits, lang } = this;
    for (const file of files) {
      if (file.size === 0) problems.push(t("file_empty", { name: file.name }));
      else if (this.items.length >= limits.max_files) problems.push(t("too_many_files", { count: limits.max_files }));
      else if (file.size > limits.max_file_bytes) {
        problems.push(t("file_too_large", { name: file.name, limit: formatSize(limits.max_file_bytes, lang, t) }));
      } else if (this.totalBytes + file.size > limits.max_total_bytes) {
        problems.push(t("total_too_large", { limit: formatSize(limits.max_total_bytes, lang, t) }));
      } else this.items.push({ file, clean: null, accepted: false });
    }
    this.errorEl.textContent = [...new Set(problems)].join(" ");
    this.errorEl.hidden = problems.length === 0;
    this.render();
    this.onChange?.();
  }

  clear() {
    this.items = [];
    this.errorEl.textContent = "";
    this.errorEl.hidden = true;
    this.render();
  }

  /**
   * Look into each file not yet looked into, so he sees what will be removed
   * and is asked about every file whose hidden data cannot be (before
   * anything is sent). `loadExif` gives the exif.js module.
   */
  async inspect(loadExif) {
    const pending = this.items.filter((item) => item.clean === null);
    if (!pending.length) return;
    try {
      const exif = await loadExif();
      for (const item of pending) item.clean ??= await exif.stripMetadata(item.file);
    } catch (error) {
      console.error("files: could not inspect a file:", error); // local only
      // Not looked into is not cleaned: he is asked about each such file.
      for (const item of pending) item.clean ??= { blob: item.file, kind: null, removed: [], failed: true };
    }
    this.render();
  }

  /** The first file still waiting for his decision, as its list row (or null). */
  firstUndecided() {
    const index = this.items.findIndex(needsDecision);
    return index === -1 ? null : this.list.children[index] ?? null;
  }

  /** Said before anything is sent: what this file may reveal, and his two choices. */
  warning(item, index) {
    const { t } = this;
    const box = document.createElement("div");
    box.className = "file-warning";
    box.setAttribute("role", "group");
    box.setAttribute("aria-label", item.file.name);
    const text = document.createElement("p");
    text.textContent = t("metadata_unknown");
    const keep = document.createElement("button");
    keep.type = "button";
    keep.className = "secondary";
    keep.dataset.accept = String(index);
    keep.textContent = t("send_anyway");
    const drop = document.createElement("button");
    drop.type = "button";
    drop.className = "secondary";
    drop.dataset.remove = String(index);
    drop.textContent = t("leave_out");
    box.append(text, keep, drop);
    return box;
  }

  render() {
    const { t, lang } = this;
    this.list.replaceChildren(
      ...this.items.map((item, index) => {
        const li = document.createElement("li");
        const name = document.createElement("span");
        name.className = "name";
        name.textContent = item.file.name;
        const meta = document.createElement("span");
        meta.className = "meta";
        const notes = [formatSize(item.file.size, lang, t)];
        if (uncleaned(item) && item.accepted) notes.push(t("sent_as_is"));
        else if (item.clean?.removed.length) notes.push(t(this.cleaning ? "cleaned" : "not_cleaned"));
        meta.textContent = notes.join(" · ");
        name.append(meta);
        const remove = document.createElement("button");
        remove.type = "button";
        remove.dataset.remove = String(index);
        remove.setAttribute("aria-label", t("remove_file", { name: item.file.name }));
        remove.textContent = "×";
        li.append(name, remove);
        if (uncleaned(item) && !item.accepted) li.append(this.warning(item, index));
        return li;
      }),
    );
    this.totalEl.textContent = this.items.length
      ? t("files_total", { count: this.items.length, size: formatSize(this.totalBytes, lang, t) })
      : t("no_files");
  }
}
