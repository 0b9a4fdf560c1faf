"""check-site's eyes: real headless Chromium, recording every response it receives.

A server that wants to fool the check only has to tell the checker from an
applicant. A tool's HTTP library is easy to tell apart (headers, their order,
TLS, what it does not fetch); Chromium loading the pages as navigations is
what an applicant's browser is. So the pages are loaded here exactly as a
visitor's browser loads them, each in a fresh context (an empty cache, as on
a first visit), and every response the browser receives is kept: the page,
its scripts and modules, styles, word lists, the JSON it fetches.

`playwright` is imported inside `ChromiumFetcher.__enter__` only: `crypto/`
stays importable (and the other tools usable) with PyNaCl alone.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from crypto.site import check_path

from .common import InputError, ServerError
from .hostile import visible
from .transport import Observation

CHROMIUM = Path("/usr/bin/chromium")
# As ../shared/TESTING.md: what is known to work with Debian's Chromium.
# --no-sandbox because Chromium refuses to start as root without it; the
# systemd unit (deploy/systemd/intake-check-site.service) confines the whole
# process instead.
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NAVIGATION_TIMEOUT_MS = 120_000  # Tor circuits and phone hotspots are slow
IDLE_TIMEOUT_MS = 30_000
_FALLBACK_HINT = (
    "or run `check-site --http` (the standard library with a browser's headers, "
    "which a careful server can still tell from a browser)"
)
# How a page's own code loads a file it has not loaded yet: our modules only
# through <link rel=modulepreload> (intake-page.js `lazy`), everything else
# (word lists, JSON) through fetch() (codename.js `loadWordlist`).
_LOAD_LISTED = """async (path) => {
  if (/\\.m?js$/.test(path)) {
    await new Promise((resolve) => {
      const link = document.createElement("link");
      link.rel = "modulepreload";
      link.href = path;
      link.crossOrigin = "anonymous";
      link.addEventListener("load", resolve, { once: true });
      link.addEventListener("error", resolve, { once: true });
      document.head.append(link);
    });
  } else if (/\\.css$/.test(path)) {
    await new Promise((resolve) => {
      const link = document.createElement("link");
      link.rel = "stylesheet";
      link.href = path;
      link.addEventListener("load", resolve, { once: true });
      link.addEventListener("error", resolve, { once: true });
      document.head.append(link);
    });
  } else {
    try {
      const response = await fetch(path, {
        credentials: "omit", referrerPolicy: "no-referrer", cache: "no-store",
      });
      await response.arrayBuffer();
    } catch (e) {}
  }
}"""
_LINKS = """() => [...document.querySelectorAll("a[href]")].map((a) => a.href)"""


def chromium_proxy(proxy: str) -> str:
    """Chromium's --proxy-server value (it has no socks5h: its SOCKS5 always
    leaves name resolution to the proxy)."""
    parts = urlsplit(proxy)
    if parts.username or parts.password:
        raise InputError(
            "Chromium cannot use a proxy with a user name or password",
            "use a proxy without credentials, or check-site --http",
        )
    scheme = "socks5" if parts.scheme in ("socks5", "socks5h") else parts.scheme
    return f"{scheme}://{parts.hostname}:{parts.port}"


class ChromiumFetcher:
    """One headless Chromium for one check; `observations` grows with every load."""

    def __init__(self, origin: str, *, proxy: str | None, executable: Path = CHROMIUM) -> None:
        self.origin = origin
        self.proxy = proxy
        self.executable = executable
        self.observations: list[Observation] = []
        self.user_agent = ""
        self._playwright: Any = None
        self._browser: Any = None

    def __enter__(self) -> ChromiumFetcher:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            raise InputError(
                "check-site loads the pages in Chromium, which needs the Python package "
                "`playwright` (pip install playwright; never `playwright install`)",
                _FALLBACK_HINT,
            ) from None
        if not self.executable.is_file() or not os.access(self.executable, os.X_OK):
            raise InputError(
                f"Chromium is not at {self.executable} (install it: apt-get install chromium, "
                "or name it with --chromium PATH)",
                _FALLBACK_HINT,
            )
        args = list(LAUNCH_ARGS)
        if self.proxy is not None:
            # Everything through the proxy, loopback included: with Tor, not
            # one request may leave from this machine's own address.
            args.append(f"--proxy-server={chromium_proxy(self.proxy)}")
            args.append("--proxy-bypass-list=<-loopback>")
        self._playwright = sync_playwright().start()
        try:
            self._browser = self._playwright.chromium.launch(
                executable_path=str(self.executable), args=args, headless=True
            )
            # A headless Chromium says "HeadlessChrome" in its User-Agent: a
            # server would need nothing more to spot the checker.
            probe = self._browser.new_page()
            agent = str(probe.evaluate("navigator.userAgent"))
            probe.close()
            self.user_agent = agent.replace("HeadlessChrome/", "Chrome/")
        except Exception:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._browser is not None:
            self._browser.close()
            self._browser = None
        if self._playwright is not None:
            self._playwright.stop()
            self._playwright = None

    def _context(self) -> Any:
        return self._browser.new_context(user_agent=self.user_agent)

    def visit(self, path: str) -> list[str]:
        """Navigate to `path` in a fresh context; record every response until
        the network is idle. Returns the same-origin pages it links to."""
        context = self._context()
        try:
            page = context.new_page()
            seen: list[Any] = []
            page.on("response", lambda response: seen.append(response))
            self._goto(page, path)
            links = [str(link) for link in page.evaluate(_LINKS)]
            self._record(seen)
            return self._page_links(links)
        finally:
            context.close()

    def load_listed(self, paths: list[str]) -> None:
        """Load files the pages did not load by themselves (word lists, modules
        loaded on demand), from a page of the origin, as the page's code would."""
        if not paths:
            return
        context = self._context()
        try:
            page = context.new_page()
            seen: list[Any] = []
            page.on("response", lambda response: seen.append(response))
            self._goto(page, "/")
            for path in paths:
                page.evaluate(_LOAD_LISTED, path)
            self._settle(page)
            self._record(seen)
        finally:
            context.close()

    def _goto(self, page: Any, path: str) -> None:
        from playwright.sync_api import Error as PlaywrightError

        try:
            page.goto(self.origin + path, wait_until="load", timeout=NAVIGATION_TIMEOUT_MS)
        except PlaywrightError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ServerError(
                f"Chromium could not load {visible(self.origin + path, limit=140)}: "
                f"{visible(first, limit=160)}",
                "check the URL, the network connection" + (" and the proxy" if self.proxy else ""),
            ) from None
        self._settle(page)

    def _settle(self, page: Any) -> None:
        from playwright.sync_api import Error as PlaywrightError

        # Still busy after that: what has arrived is checked, the rest is "never loaded".
        with contextlib.suppress(PlaywrightError):
            page.wait_for_load_state("networkidle", timeout=IDLE_TIMEOUT_MS)

    def _record(self, responses: list[Any]) -> None:
        from playwright.sync_api import Error as PlaywrightError

        for response in responses:
            url = str(response.url)
            if url.startswith(("data:", "blob:")):
                continue  # part of the page's own (checked) bytes
            try:
                body: bytes | None = response.body()
            except PlaywrightError:
                body = None  # a redirect, or a body the browser never got
            try:
                raw = response.headers_array()
                headers = [(str(h["name"]), str(h["value"])) for h in raw]
            except PlaywrightError:
                headers = []
            same, where = self._on_origin(url)
            self.observations.append(
                Observation(
                    where, int(response.status), body, headers, same, response.request.resource_type
                )
            )

    def _on_origin(self, url: str) -> tuple[bool, str]:
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" != self.origin:
            return False, url
        return True, parts.path + (f"?{parts.query}" if parts.query else "")

    def _page_links(self, links: list[str]) -> list[str]:
        found = []
        for link in links:
            same, path = self._on_origin(link.split("#", 1)[0])
            if not same or not path.endswith("/"):
                continue
            try:
                check_path(path)
            except ValueError:
                continue
            found.append(path)
        return found
