// Safety controls every applicant page shares.
//
// - Quick exit: the header's link (or Esc pressed three times) leaves for a
//   neutral site with location.replace. A page that added history entries
//   (the intake form's steps) first rewinds to its own first entry, so the
//   one that is replaced is the page's first, and "back" goes to whatever
//   came before it, never to this site.
// - A neutral tab title, for someone glancing at the phone.
// - A fragment or query in the address is dropped, so nothing typed ends up
//   in the history (steps record only a step number, see form.js).
// - Links marked `data-leave` (another language, another page) ask first
//   when leaving would lose what was typed; with `warnOnLeave`, so does the
//   browser (back gesture on the first step, reload, closing the tab), but
//   never for the quick exit.
// Nothing here writes cookies or web storage: there is nothing to remember.

/** Escape presses, each within this long of the one before, that leave at once. */
export const EXIT_PRESSES = 3;
const PRESS_GAP_MS = 1500;
// Long enough for a same-document history traversal, short enough to stay "quick".
const REWIND_WAIT_MS = 1000;

/**
 * @param {object} [options]
 * @param {() => void} [options.onExit] runs just before the quick exit
 *   (wipe what was typed and any keys, so no restored page can show them).
 * @param {() => boolean} [options.isDirty] whether leaving would lose something.
 * @param {string} [options.leaveMessage] the question asked before leaving then.
 * @param {boolean} [options.warnOnLeave] ask (beforeunload) while isDirty() holds.
 * @param {() => number} [options.entriesBehind] how many history entries this
 *   document added before the current one (rewound before the quick exit).
 * @returns {{ exit: () => void, leaving: () => boolean }}
 */
export function installSafety({ onExit, isDirty, leaveMessage, warnOnLeave = false, entriesBehind } = {}) {
  document.documentElement.classList.add("js");
  if (location.search || location.hash) history.replaceState(history.state, "", location.pathname);

  let leaving = false;
  const exitLink = document.getElementById("exit-now");

  function quickExit() {
    if (leaving || !exitLink) return;
    leaving = true;
    // Gone from the screen at once, whatever the history still has to do.
    document.documentElement.classList.add("leaving");
    try {
      onExit?.();
    } finally {
      const behind = entriesBehind?.() ?? 0;
      const go = () => location.replace(exitLink.href);
      if (behind > 0) {
        let gone = false;
        const once = () => {
          if (!gone) {
            gone = true;
            go();
          }
        };
        window.addEventListener("popstate", once, { once: true });
        setTimeout(once, REWIND_WAIT_MS);
        history.go(-behind);
      } else {
        go();
      }
    }
  }

  if (exitLink) {
    exitLink.addEventListener("click", (event) => {
      event.preventDefault();
      quickExit();
    });
    // Esc three times, for a keyboard: whatever has the focus, even a text box.
    let presses = 0;
    let last = 0;
    document.addEventListener(
      "keydown",
      (event) => {
        if (event.key !== "Escape") {
          presses = 0;
          return;
        }
        if (event.repeat) return;
        const now = performance.now();
        presses = now - last <= PRESS_GAP_MS ? presses + 1 : 1;
        last = now;
        if (presses >= EXIT_PRESSES) {
          event.preventDefault();
          quickExit();
        }
      },
      true,
    );
  }

  const box = document.getElementById("neutral-title");
  if (box && exitLink) {
    const original = document.title;
    const apply = () => {
      document.title = box.checked ? exitLink.dataset.neutralTitle : original;
    };
    box.addEventListener("change", apply);
    apply();
  }

  for (const link of document.querySelectorAll("a[data-leave]")) {
    link.addEventListener("click", (event) => {
      if (!isDirty?.() || !leaveMessage) return;
      if (window.confirm(leaveMessage)) leaving = true; // asked once: the browser need not ask again
      else event.preventDefault();
    });
  }

  if (warnOnLeave) {
    window.addEventListener("beforeunload", (event) => {
      if (leaving || !isDirty?.()) return;
      event.preventDefault();
      event.returnValue = ""; // older browsers ask only when this is set
    });
  }

  return { exit: quickExit, leaving: () => leaving };
}
