// Codenames: nine words drawn uniformly from a list of 2,048 (99 bits),
// PROTOCOL.md "Applicant mailbox". Made in the page, shown once, never sent:
// only the mailbox id and reply key derived from it leave the browser.
//
// The word lists (app/static/wordlists/<lang>.txt, made by
// scripts/make_wordlists.py) are fetched with their SRI value, and checked
// here again, because a list with repeated or fewer words would silently
// weaken every codename made from it.

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

/**
 * Fetch the word list of `lang` from our own origin, pinned by `sri`.
 * @returns {Promise<string[]>}
 */
export async function loadWordlist(lang, sri, url = `/static/wordlists/${lang}.txt`) {
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
  return checkWordlist(words);
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
