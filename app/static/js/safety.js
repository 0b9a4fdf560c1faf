// Safety controls every applicant page shares.
//
// - Quick exit: the header's link leaves for a neutral site with
//   location.replace, so this page is gone from "back" as well.
// - A neutral tab title, for someone glancing at the phone.
// - One history entry: steps never push history, and a fragment or query in
//   the address is dropped, so nothing typed ends up in the history.
// - Links marked `data-leave` (another language, another page) ask first
//   when leaving would lose what was typed.
// Nothing here writes cookies or web storage: there is nothing to remember.

/**
 * @param {object} [options]
 * @param {() => void} [options.onExit] runs just before the quick exit
 *   (wipe what was typed and any keys, so no restored page can show them).
 * @param {() => boolean} [options.isDirty] whether leaving would lose something.
 * @param {string} [options.leaveMessage] the question asked before leaving then.
 */
export function installSafety({ onExit, isDirty, leaveMessage } = {}) {
  document.documentElement.classList.add("js");
  if (location.search || location.hash) history.replaceState(null, "", location.pathname);

  const exit = document.getElementById("exit-now");
  if (exit) {
    exit.addEventListener("click", (event) => {
      event.preventDefault();
      try {
        onExit?.();
      } finally {
        location.replace(exit.href);
      }
    });
  }

  const box = document.getElementById("neutral-title");
  if (box && exit) {
    const original = document.title;
    const apply = () => {
      document.title = box.checked ? exit.dataset.neutralTitle : original;
    };
    box.addEventListener("change", apply);
    apply();
  }

  for (const link of document.querySelectorAll("a[data-leave]")) {
    link.addEventListener("click", (event) => {
      if (isDirty?.() && leaveMessage && !window.confirm(leaveMessage)) event.preventDefault();
    });
  }
}
