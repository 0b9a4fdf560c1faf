// Codenames: nine words drawn uniformly from a list of 2,048 (99 bits),
// PROTOCOL.md "Applicant mailbox". Made in the page, shown once, never sent:
// only the mailbox id and reply key derived from it leave the browser.
//
// The word lists (app/static/wordlists/<lang>.txt, made by
// scripts/make_wordlists.py) are fetched with their SRI value, and checked
// here again, because a list with repeated or fewer words would silently
// weaken every codename made from it.
//
// Words taken out of a list (alarming or degrading ones) are "retired"
// (app/static/wordlists/<lang>-retired.txt): codenames already handed out
// may hold them, and their keys come from the words' text, not their place
// in the list, so such a codename still opens its mailbox. Retired words
// are accepted when a typed codename is checked and never drawn.

export const WORDS = 9;
export const LIST_SIZE = 2048;

/** A word list that does not meet PROTOCOL.md's rules. */
export class WordlistError extends Error {
  constructor(message) {
    super(message);
    this.name = "WordlistError";
  }
}

const WORD = /^\p{Ll}+$/u;

/** Check a word list: 2,048 distinct lower-case words, no ё, none a prefix of another. */
export function checkWordlist(words) {
  if (!Array.isArray(words) || words.length !== LIST_SIZE) {
    throw new WordlistError(`a word list needs exactly ${LIST_SIZE} words`);
  }
  const sorted = [...words].sort();
  for (let i = 0; i < sorted.length; i++) {
    const word = sorted[i];
    if (!WORD.test(word) || word.includes("\u0451")) throw new WordlistError(`bad word in list: ${word}`);
    // Sorted, a word that is a prefix of others sits right before the first of them.
    if (i > 0 && word.startsWith(sorted[i - 1])) {
      throw new WordlistError(`${sorted[i - 1]} is a prefix of ${word}`);
    }
  }
  return words;
}

// Far more than any curation retires; a bound so a hostile file cannot make
// every typed codename's check slow.
export const MAX_RETIRED = LIST_SIZE;

/** Check a retired-words list: distinct lower-case words, no ё, at most MAX_RETIRED. */
export function checkRetired(words) {
  if (!Array.isArray(words) || words.length > MAX_RETIRED) throw new WordlistError("a retired-words list is too long");
  for (const word of words) {
    if (typeof word !== "string" || !WORD.test(word) || word.includes("\u0451")) throw new WordlistError(`bad retired word: ${word}`);
  }
  if (new Set(words).size !== words.length) throw new WordlistError("a retired word is listed twice");
  return words;
}

async function fetchWords(sri, url) {
  if (typeof sri !== "string" || !sri.startsWith("sha")) throw new WordlistError("no integrity value for the word list");
  const response = await fetch(url, {
    integrity: sri,
    credentials: "omit",
    referrerPolicy: "no-referrer",
    cache: "no-store",
  });
  if (!response.ok) throw new WordlistError(`word list: HTTP ${response.status}`);
  const text = await response.text();
  const words = text.split("\n");
  if (words[words.length - 1] === "") words.pop();
  return words;
}

/**
 * Fetch the word list of `lang` from our own origin, pinned by `sri`.
 * @returns {Promise<string[]>}
 */
export async function loadWordlist(lang, sri, url = `/static/wordlists/${lang}.txt`) {
  return checkWordlist(await fetchWords(sri, url));
}

/**
 * Fetch the retired words of `lang` (only ever used to check a typed
 * codename), pinned by `sri`.
 * @returns {Promise<string[]>}
 */
export async function loadRetired(lang, sri, url = `/static/wordlists/${lang}-retired.txt`) {
  return checkRetired(await fetchWords(sri, url));
}

/**
 * A fresh codename: WORDS words, each uniform over the list
 * (`randombytes_uniform` has no modulo bias), joined by single spaces.
 * `lang` is the list's language: words are shown and confirmed in it.
 */
export function generateCodename(sodium, lang, wordlist) {
  if (typeof lang !== "string" || !lang) throw new TypeError("generateCodename needs the list's language");
  checkWordlist(wordlist);
  const words = [];
  for (let i = 0; i < WORDS; i++) words.push(wordlist[sodium.randombytes_uniform(LIST_SIZE)]);
  return words.join(" ");
}

// ------------------------------------------------------------- checking a typed codename

// List numbering a codename may carry when copied from the page's numbered
// list or written down with numbers: "1." "1)" "1:" or a bare "1", alone or
// glued to its word ("1.word"). No list word holds a digit (checkWordlist),
// so dropping it never changes a word; a number that is not its word's
// place is reported, never used to reorder the words.
const NUMBER_ALONE = /^(\d{1,2})[.):]?$/u;
const NUMBER_GLUED = /^(\d{1,2})[.):](\p{L}+)$/u;

/**
 * Read the words of a codename already normalised as PROTOCOL.md says
 * (`normaliseCodename`: one space between words). Returns
 * `{words}` or `{problem: "count", count}` or
 * `{problem: "numbering", position, number}` (positions count from 1).
 */
export function readCodename(normal) {
  const words = [];
  const numbered = [];
  let pending = null;
  for (const token of normal.split(" ").filter((part) => part.length > 0)) {
    const alone = NUMBER_ALONE.exec(token);
    if (alone) {
      pending = Number(alone[1]);
      continue;
    }
    const glued = NUMBER_GLUED.exec(token);
    numbered.push(glued ? Number(glued[1]) : pending);
    words.push(glued ? glued[2] : token);
    pending = null;
  }
  if (words.length !== WORDS) return { problem: "count", count: words.length };
  for (let i = 0; i < words.length; i++) {
    if (numbered[i] !== null && numbered[i] !== i + 1) return { problem: "numbering", position: i + 1, number: numbered[i] };
  }
  return { words };
}

/** Edit distance (with swapped neighbours as one edit), or `limit + 1` once above `limit`. */
function distance(a, b, limit) {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let before = null;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      let cost = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (before && i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) cost = Math.min(cost, before[j - 2] + 1);
      row.push(cost);
      best = Math.min(best, cost);
    }
    if (best > limit) return limit + 1;
    before = previous;
    previous = row;
  }
  return previous[b.length];
}

/** The one list word within two edits of `word` and closer than any other, or null. */
export function closestWord(word, list) {
  let found = null;
  let best = 3;
  let tied = false;
  for (const candidate of list) {
    const d = distance(word, candidate, best);
    if (d < best) {
      best = d;
      found = candidate;
      tied = false;
    } else if (d === best && found !== null) {
      tied = true;
    }
  }
  return tied ? null : found;
}

/**
 * Which of `words` are not in the word list they came from. A codename's
 * words all come from one list (generateCodename), so the list holding most
 * of them is taken (the first given wins a tie) and every other word is
 * wrong, even one that is in another list. `lists` is
 * `[[lang, words, retired]]`; a list's retired words (optional) count as
 * its words, since older codenames hold them. Returns
 * `{lang, wrong: [{position, word, suggestion}]}`.
 */
export function wrongWords(words, lists) {
  let chosen = null;
  for (const [lang, current, retired = []] of lists) {
    const list = retired.length > 0 ? [...current, ...retired] : current;
    const known = new Set(list);
    const count = words.filter((word) => known.has(word)).length;
    if (chosen === null || count > chosen.count) chosen = { lang, list, known, count };
  }
  const wrong = [];
  words.forEach((word, index) => {
    if (!chosen.known.has(word)) wrong.push({ position: index + 1, word, suggestion: closestWord(word, chosen.list) });
  });
  return { lang: chosen.lang, wrong };
}
