"""Time until the page can encrypt, on a slow phone: compressed against plain.

The applicant's wait is what the page itself signals: the intake form's
`data-state="ready"` (libsodium running, the organisation's keys verified,
the signed form checked) and the mailbox's `#mailbox[data-state="ready"]`
(ready to open a codename). A script added before the page's own
(Playwright's init script, outside the page's CSP) records
`performance.now()` when the attribute turns "ready", so the figure runs from
the start of the navigation and no polling delay is in it.

The phone: Chromium's CDP `Emulation.setCPUThrottlingRate` 4 and
`Network.emulateNetworkConditions` (400 kbit/s down and up, 400 ms round
trip), a 360 px wide viewport; with WebAssembly, and jitless (Tor Browser
"Safer": no JIT, no WebAssembly, the asm.js build). Each coding is forced by
the request's Accept-Encoding (`identity` is the plain baseline, the same
server in the same run).

The same run loads both pages again as production serves them: through a
real Caddy running deploy/caddy/Caddyfile (harness/caddy.py) in front of the
same server, over HTTPS from Caddy's internal CA (which Chromium is told to
accept by the issuing certificate's key hash, so no certificate error is in
play), with HTTP/2, and with the coding the browser gets by itself (its own
Accept-Encoding; the app answers br, Caddy passes it through). Each of those
loads is checked: every Resource Timing entry's `nextHopProtocol` is h2 and
the page came br-coded, or the benchmark fails. The targets are judged on
this production path; the direct HTTP/1.1 figures stay beside it.
"""

from __future__ import annotations

import os
import shutil
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.results import Headline, Measurement, Target

THROTTLE = 4
LATENCY_MS = 400
KBIT_S = 400
BYTES_S = KBIT_S * 1000 / 8
VIEWPORT = {"width": 360, "height": 740}
TARGET_NORMAL_S = 5.0
TARGET_SAFER_S = 10.0
CODINGS = ("identity", "gzip", "br")
PAGES = {"intake": ("/", "#intake-form"), "mailbox": ("/mailbox/", "#mailbox")}
# Cell key of the production path: Caddy, HTTPS, HTTP/2, the browser's own coding.
PRODUCTION = "caddy-h2"
PRODUCTION_LABEL = "production: Caddy, HTTPS, HTTP/2"

# Runs before any script of the page: notes when the page says it is ready.
RECORD_READY = """
(() => {
  window.__ready = null;
  const seen = () => {
    const el = document.querySelector('#intake-form, #mailbox');
    if (window.__ready === null && el && el.dataset.state === 'ready') {
      window.__ready = performance.now();
    }
  };
  new MutationObserver(seen).observe(document, {
    subtree: true, attributes: true, attributeFilter: ['data-state'],
  });
})();
"""

RESOURCES = """
() => performance.getEntriesByType('resource').concat(performance.getEntriesByType('navigation'))
  .map((e) => ({
    path: new URL(e.name).pathname,
    start: e.startTime,
    end: e.responseEnd,
    transfer: e.transferSize,
    encoded: e.encodedBodySize,
    decoded: e.decodedBodySize,
    protocol: e.nextHopProtocol,
    connect_start: e.connectStart,
    secure_start: e.secureConnectionStart,
    connect_end: e.connectEnd,
  }))
"""


@dataclass
class Load:
    ready_ms: float
    transfer: int  # bytes over the wire (headers included), as Resource Timing counts them
    decoded: int
    resources: list[dict[str, Any]] = field(default_factory=list)
    # From CDP's Network.responseReceived, up to ready: the connections the
    # responses came over, each one's TCP connect and TLS handshake (ms), the
    # TLS version, and the page's Content-Encoding.
    connections: int = 0
    connect_ms: list[float] = field(default_factory=list)
    tls_ms: list[float] = field(default_factory=list)
    tls_version: str = ""
    page_coding: str = ""
    off_page_connection: list[str] = field(default_factory=list)  # paths not on the page's

    @property
    def protocols(self) -> set[str]:
        return {str(r["protocol"]) for r in self.resources}


def _load(browser: Any, base: str, page_key: str, coding: str | None) -> Load:
    """One load of the page at `base`; `coding` forced by Accept-Encoding, or
    None for the browser's own."""
    path, selector = PAGES[page_key]
    context = browser.new_context(
        viewport=VIEWPORT,
        extra_http_headers={} if coding is None else {"Accept-Encoding": coding},
    )
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.add_init_script(RECORD_READY)
        cdp = context.new_cdp_session(page)
        responses: list[dict[str, Any]] = []
        cdp.on("Network.responseReceived", lambda event: responses.append(event["response"]))
        cdp.send("Network.enable")
        cdp.send(
            "Network.emulateNetworkConditions",
            {
                "offline": False,
                "latency": LATENCY_MS,
                "downloadThroughput": BYTES_S,
                "uploadThroughput": BYTES_S,
            },
        )
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": THROTTLE})
        page.goto(base + path, wait_until="commit", timeout=180_000)
        page.wait_for_selector(f'{selector}[data-state="ready"]', timeout=180_000)
        page.wait_for_function("() => window.__ready !== null", timeout=30_000)
        ready = float(page.evaluate("() => window.__ready"))
        resources = page.evaluate(RESOURCES)
        if errors:
            raise RuntimeError(f"{path} ({coding}): page errors: {errors}")
        load = Load(
            ready_ms=ready,
            transfer=sum(int(r["transfer"]) for r in resources),
            decoded=sum(int(r["decoded"]) for r in resources),
            resources=resources,
        )
        _connections(load, [r for r in responses if r["url"].startswith(base)], base + path)
        return load
    finally:
        context.close()


def _connections(load: Load, responses: list[dict[str, Any]], page_url: str) -> None:
    """What CDP saw of the connections: how many, what went over others than
    the page's, their set-up times (where Chromium attributes them to a
    request: the page's own connection is opened at navigation start, before
    its request), the TLS version, the page's coding."""
    ids = set()
    page_connection = next((r.get("connectionId") for r in responses if r["url"] == page_url), None)
    for response in responses:
        ids.add(response.get("connectionId"))
        if response.get("connectionId") != page_connection:
            load.off_page_connection.append(urlsplit(response["url"]).path)
        timing = response.get("timing") or {}
        if timing.get("connectStart", -1) >= 0:
            load.connect_ms.append(timing["connectEnd"] - timing["connectStart"])
        if timing.get("sslStart", -1) >= 0:
            load.tls_ms.append(timing["sslEnd"] - timing["sslStart"])
        security = response.get("securityDetails")
        if security:
            load.tls_version = security.get("protocol", "")
        if response["url"] == page_url:
            headers = {k.lower(): v for k, v in response.get("headers", {}).items()}
            load.page_coding = headers.get("content-encoding", "identity")
    load.connections = len(ids)


def _check_production(load: Load, page_key: str, served: str) -> None:
    """The production path really was HTTP/2 over TLS, with the app's coding."""
    if load.protocols != {"h2"}:
        raise RuntimeError(f"{page_key} via Caddy: nextHopProtocol {sorted(load.protocols)}")
    if not load.tls_version:
        raise RuntimeError(f"{page_key} via Caddy: no TLS seen")
    if load.page_coding != served:
        raise RuntimeError(f"{page_key} via Caddy: page coded {load.page_coding}, not {served}")


@dataclass
class Cell:
    loads: list[Load]

    @property
    def seconds(self) -> float:
        return statistics.median(x.ready_ms for x in self.loads) / 1000

    @property
    def kb(self) -> float:
        return statistics.median(x.transfer for x in self.loads) / 1000

    @property
    def decoded_kb(self) -> float:
        return statistics.median(x.decoded for x in self.loads) / 1000


def _waterfall(load: Load) -> str:
    """The page's loads in order of start: when each began and ended (s)."""
    parts = []
    for r in sorted(load.resources, key=lambda r: r["start"]):
        name = r["path"].rsplit("/", 1)[-1] or r["path"]
        parts.append(
            f"{name} {r['start'] / 1000:.1f}–{r['end'] / 1000:.1f} ({r['transfer'] / 1000:.0f} kB)"
        )
    return "; ".join(parts) + f"; ready {load.ready_ms / 1000:.1f}"


def _launch(ctx: Any, jitless: bool, extra_args: list[str]) -> Any:
    """harness.browser's Chromium, plus `extra_args` (the production path's
    certificate trust; it changes nothing for plain HTTP)."""
    from harness.browser import BASE_ARGS, CHROMIUM, JITLESS_ARGS

    args = [*BASE_ARGS, *(JITLESS_ARGS if jitless else []), *extra_args]
    return ctx.playwright().chromium.launch(executable_path=str(CHROMIUM), args=args, headless=True)


def _snapshot_app(folder: Path) -> str:
    """A copy of the `app` package for the server: the pages' SRI values are
    computed when it starts, so a script edited in the checkout meanwhile
    would leave a page stuck before "ready". Returns its PYTHONPATH."""
    import app

    shutil.copytree(
        Path(app.__path__[0]), folder / "app", ignore=shutil.ignore_patterns("__pycache__")
    )
    return os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)


def ready(ctx: Any) -> Measurement:
    from app.compression import PREFERENCE
    from harness.caddy import caddy_version, run_caddy
    from harness.server_process import ServerProcess

    rounds = 1 if ctx.quick else 3
    folder = ctx.folder("ready")
    server = ServerProcess(
        ctx.org(),
        f"sqlite:///{folder / 'intake.db'}",
        folder / "blobs",
        folder / "server.log",
        PYTHONPATH=_snapshot_app(folder / "snapshot"),
    )
    cells: dict[tuple[str, str, str], Cell] = {}
    server.start()
    try:
        with run_caddy(
            f"127.0.0.1:{server.port}", folder / "caddy.log", folder / "caddy", https=True
        ) as site:
            trust = [f"--ignore-certificate-errors-spki-list={site.issuer_spki_sha256()}"]
            for mode in ("normal", "safer"):
                browser = _launch(ctx, mode == "safer", trust)
                try:
                    # One load of each page over each path first, not counted:
                    # a server's first answers (the compressed copies of the
                    # pages and of the chain, made once; the first queries and
                    # imports) are not what an applicant meets.
                    for page_key in PAGES:
                        for route in (*CODINGS, PRODUCTION):
                            if route == PRODUCTION:
                                _load(browser, site.public, page_key, None)
                            else:
                                _load(browser, server.url, page_key, route)
                    # Rounds outermost, codings and paths alternating: a drift
                    # in the machine's load spreads over every one alike.
                    for _ in range(rounds):
                        for page_key in PAGES:
                            for route in (*CODINGS, PRODUCTION):
                                if route == PRODUCTION:
                                    load = _load(browser, site.public, page_key, None)
                                    _check_production(load, page_key, PREFERENCE[0])
                                else:
                                    load = _load(browser, server.url, page_key, route)
                                key = (mode, page_key, route)
                                cells.setdefault(key, Cell([])).loads.append(load)
                                ctx.log(
                                    f"   {mode:6} {page_key:7} {route:8} ready "
                                    f"{load.ready_ms / 1000:5.1f} s, "
                                    f"{load.transfer / 1000:6.0f} kB, "
                                    f"{'/'.join(sorted(load.protocols))}, "
                                    f"{load.connections} connection(s)"
                                )
                finally:
                    browser.close()
    finally:
        server.stop()
    return _measurement(cells, rounds, caddy_version())


def _measurement(
    cells: dict[tuple[str, str, str], Cell], rounds: int, caddy_version: str
) -> Measurement:
    from app.compression import PREFERENCE

    served = PREFERENCE[0]  # what a browser accepting both is sent
    table = [
        [
            "page, browser",
            "direct: plain (baseline)",
            "direct: gzip",
            "direct: br",
            f"direct: served to Chromium ({served})",
            f"{PRODUCTION_LABEL} ({served})",
            "target (judged on production)",
        ]
    ]
    targets = {"normal": TARGET_NORMAL_S, "safer": TARGET_SAFER_S}
    labels = {"normal": "WebAssembly", "safer": "Safer (jitless, asm.js)"}
    for mode in ("normal", "safer"):
        for page_key in PAGES:
            row = [f"{page_key}, {labels[mode]}"]
            for coding in CODINGS:
                cell = cells[(mode, page_key, coding)]
                row.append(f"{cell.seconds:.1f} s ({cell.kb:.0f} kB)")
            row.append(f"{cells[(mode, page_key, served)].seconds:.1f} s")
            prod = cells[(mode, page_key, PRODUCTION)]
            row.append(f"{prod.seconds:.1f} s ({prod.kb:.0f} kB)")
            row.append(f"≤ {targets[mode]:.0f} s" if page_key == "intake" else "—")
            table.append(row)
    normal = cells[("normal", "intake", PRODUCTION)]
    safer = cells[("safer", "intake", PRODUCTION)]
    direct = cells[("normal", "intake", served)]
    direct_safer = cells[("safer", "intake", served)]
    # The headline target is the normal one, on the production path; Safer's
    # is in the table and notes.
    headline = Headline(
        item="Encryption ready, slow phone (production path: Caddy, HTTP/2)",
        ours=f"{normal.seconds:.1f} s ({served}, Caddy h2); Safer {safer.seconds:.1f} s",
        baseline=f"direct HTTP/1.1 {direct.seconds:.1f} s ({served}), "
        f"{cells[('normal', 'intake', 'identity')].seconds:.1f} s plain; Safer "
        f"{direct_safer.seconds:.1f} s, "
        f"{cells[('safer', 'intake', 'identity')].seconds:.1f} s plain",
        figure=normal.seconds,
        shown=f"{normal.seconds:.1f} s",
        target=Target(
            f"≤ {TARGET_NORMAL_S:.0f} s (Safer ≤ {TARGET_SAFER_S:.0f} s), production path",
            "<=",
            TARGET_NORMAL_S,
        ),
    )

    def rounds_of(cell: Cell) -> str:
        return ", ".join(f"{x.ready_ms / 1000:.1f}" for x in cell.loads)

    def verdict(cell: Cell, target: float) -> str:
        return "met" if cell.seconds <= target else "**not met**"

    production = [x for key, c in cells.items() if key[2] == PRODUCTION for x in c.loads]
    direct_loads = [x for key, c in cells.items() if key[2] in CODINGS for x in c.loads]
    tls_ms = statistics.median(ms for x in production for ms in x.tls_ms)
    prod_connect = statistics.median(ms for x in production for ms in x.connect_ms)
    direct_connect = statistics.median(ms for x in direct_loads for ms in x.connect_ms)
    rtt = LATENCY_MS / 1000
    if max(prod_connect, direct_connect) < LATENCY_MS / 2:
        emulation = (
            f"under the emulated {LATENCY_MS} ms round trip a connection was set up in "
            f"{direct_connect:.0f} ms (TCP, direct) and {prod_connect:.0f} ms (TCP and TLS, "
            "production): DevTools' throttling delays each request, not connection set-up, "
            "so neither path's figures include the handshake round trips of a real "
            f"{LATENCY_MS} ms network: TCP's one on both paths, and on the production path "
            f"TLS 1.3's one more ({rtt:.1f} s) before the first request (and again on the "
            "API calls' own connection). With the page's round trip added, "
            f"the production path's intake page would be ready at about "
            f"{normal.seconds + rtt:.1f} s (Safer {safer.seconds + rtt:.1f} s): an estimate, "
            "not a measurement"
        )
    else:
        emulation = (
            f"connection set-up took {direct_connect:.0f} ms (TCP, direct) and "
            f"{prod_connect:.0f} ms (TCP and TLS, production) under the emulated "
            f"{LATENCY_MS} ms round trip: the figures include the handshakes"
        )
    notes = [
        f"Target on the production path (≤ {TARGET_NORMAL_S:.0f} s, WebAssembly): "
        f"{verdict(normal, TARGET_NORMAL_S)} ({normal.seconds:.1f} s; rounds "
        f"{rounds_of(normal)} s). Safer target (≤ {TARGET_SAFER_S:.0f} s): "
        f"{verdict(safer, TARGET_SAFER_S)} ({safer.seconds:.1f} s; rounds "
        f"{rounds_of(safer)} s). Direct to uvicorn over HTTP/1.1 ({served}), for "
        f"comparison: {direct.seconds:.1f} s (rounds {rounds_of(direct)} s), Safer "
        f"{direct_safer.seconds:.1f} s (rounds {rounds_of(direct_safer)} s).",
        f"Production path checked on each of its {len(production)} loads: every Resource "
        f"Timing entry ({sum(len(x.resources) for x in production)} in all) has "
        "`nextHopProtocol` h2, over "
        + _spread(x.connections for x in production)
        + " connection(s) per load (CDP `connectionId`; direct HTTP/1.1 loads: "
        + _spread(x.connections for x in direct_loads)
        + f"), {production[0].tls_version}, and the page came {served}-coded to the "
        "browser's own Accept-Encoding. Not over the page's connection: "
        + (", ".join(sorted({p for x in production for p in x.off_page_connection})) or "nothing")
        + ' (the app\'s API calls are made with `credentials: "omit"`, '
        "app/static/js/upload.js, and Chromium keeps requests without credentials on "
        "connections of their own: one more TCP and TLS set-up per page).",
        f"TLS handshake (CDP `sslStart`–`sslEnd` of the connections set up for a request, "
        "in Chromium's network stack, which the CPU throttle does not slow; the page's own "
        "connection is opened at navigation start and its set-up is not attributed): "
        f"median {tls_ms:.0f} ms over loopback; " + emulation + ".",
        f"Bytes: transferSize of every Resource Timing entry (the page, scripts, "
        f"libsodium.js, the manifest chain); decoded: intake page with WebAssembly "
        f"{normal.decoded_kb:.0f} kB, Safer {safer.decoded_kb:.0f} kB.",
    ]
    for mode in ("normal", "safer"):
        for route in (PRODUCTION, served, "identity"):
            cell = cells[(mode, "intake", route)]
            name = f"{PRODUCTION_LABEL}, {served}" if route == PRODUCTION else f"direct, {route}"
            notes.append(
                f"Waterfall, intake page, {labels[mode]}, {name} (start–end in s, "
                f"transfer): {_waterfall(cell.loads[0])}."
            )
    return Measurement(
        title="Time to ready on a slow phone: compressed and plain, direct and through Caddy",
        headline=headline,
        table=table,
        method=(
            "A running `intake serve` (demo organisation, SQLite) and headless Chromium, a "
            f"fresh context per load (empty cache), {VIEWPORT['width']} px viewport, CPU "
            f"throttled {THROTTLE}x (CDP `Emulation.setCPUThrottlingRate`) and the network "
            f"emulated at {KBIT_S} kbit/s down and up with {LATENCY_MS} ms round trip (CDP "
            "`Network.emulateNetworkConditions`). Ready is what the page signals: "
            '`#intake-form[data-state="ready"]` (libsodium running, the manifest chain '
            'verified, the signed form checked) and `#mailbox[data-state="ready"]`; an init '
            "script records `performance.now()` (from navigation start) when the attribute "
            "changes. Direct: Chromium talks HTTP/1.1 to uvicorn (up to six connections, the "
            "API calls on one more); "
            "each coding is forced with the request's Accept-Encoding: `identity` is the "
            "baseline (the plain bytes, as served before compression), `gzip` and `br` the "
            "app's compressed answers; a browser that accepts both gets the first of "
            f"`{', '.join(PREFERENCE)}`. Production: the same server behind Caddy "
            f"{caddy_version} running deploy/caddy/Caddyfile unchanged but for the site "
            "address (`https://127.0.0.1:<port>`, so `tls internal`: Caddy's own CA) and two "
            "global options for a loopback run (the CA's root not installed in the "
            "machine's trust store, the redirect listener off port 80); harness/caddy.py. "
            "Chromium accepts the chain by the intermediate's key hash "
            "(`--ignore-certificate-errors-spki-list`, no certificate error), speaks HTTP/2 "
            "over TLS (QUIC is off) and sends its own Accept-Encoding. The targets are "
            f"judged on the production path. Medians of {rounds} "
            f"round{'s' if rounds != 1 else ''}, codings and paths alternating, after one "
            "load of each page over each path that is not counted (a server's first "
            "answers make the compressed copies of the pages and of the chain, once); kB "
            "over the wire in brackets."
        ),
        notes=notes,
        analysis=analysis(cells, served),
    )


def _spread(values: Any) -> str:
    """'3' or '2–6': the range of some counts."""
    counts = sorted(values)
    low, high = counts[0], counts[-1]
    return f"{low}" if low == high else f"{low}–{high}"


def _at(load: Load, name: str) -> tuple[float, float]:
    """(start, end) in s of the first load whose path ends with `name`."""
    for r in load.resources:
        if r["path"].endswith(name):
            return r["start"] / 1000, r["end"] / 1000
    return float("nan"), float("nan")


def _critical_path(load: Load, core: str, wrappers: str) -> dict[str, float]:
    chain = next((r for r in load.resources if r["path"] == "/api/v1/manifests"), None)
    core_kb = next((r["transfer"] for r in load.resources if r["path"].endswith("/" + core)), 0)
    return {
        "html": _at(load, "/")[1],
        "page_js": _at(load, "intake-page.js")[1],
        "preload_start": _at(load, "sodium-preload.js")[0],
        "preload_end": _at(load, "sodium-preload.js")[1],
        "core_start": _at(load, core)[0],
        "core_end": _at(load, core)[1],
        "wrappers_start": _at(load, wrappers)[0],
        "chain_start": _at(load, "/api/v1/manifests")[0],
        "chain_end": _at(load, "/api/v1/manifests")[1],
        "ready": load.ready_ms / 1000,
        "floor": load.transfer / BYTES_S,
        "chain_kb": (chain["transfer"] if chain else 0) / 1000,
        "core_kb": core_kb / 1000,
        "total_kb": load.transfer / 1000,
        "requests": len(load.resources),
    }


def analysis(cells: dict[tuple[str, str, str], Cell], served: str) -> str:
    """Where the time goes, from this run's own timings (first round, production path)."""
    normal = _critical_path(
        cells[("normal", "intake", PRODUCTION)].loads[0], "libsodium.wasm", "libsodium-wrappers.mjs"
    )
    safer = _critical_path(
        cells[("safer", "intake", PRODUCTION)].loads[0], "libsodium.js", "libsodium-wrappers.js"
    )
    prod, direct = (cells[("normal", "intake", key)] for key in (PRODUCTION, served))
    connections = cells[("normal", "intake", PRODUCTION)].loads[0].connections
    n, j = normal, safer
    n_tail = n["ready"] - max(n["core_end"], n["chain_end"])
    j_tail = j["ready"] - max(j["core_end"], j["chain_end"])
    return f"""\
Done so far: every file "ready" needs starts with the page. The
intake page's head names our modules (`<link rel="modulepreload"
integrity>`) and a 1 kB async script, sodium-preload.js (fetchpriority high,
so it is not queued behind the rest), that adds the libsodium build this
browser will run (the WebAssembly modules, or the asm.js script where
WebAssembly is missing), each pinned by its SRI value; the page fetches the
manifest chain while libsodium loads instead of after; exif.js and
codename.js wait until after ready; br is preferred over gzip; libsodium's
WebAssembly is cut at vendor time to the functions the pages call
(scripts/trim_libsodium.py: binaryen removes the other exports and the code
only they reached) and sent as a binary, libsodium.wasm, rather than as
base64 inside libsodium.mjs (111 kB br before, 58 kB for the two now); the
manifest chain, public and the same for everyone, is sent compressed (16 kB
before); the classic libsodium.js that Safer loads comes without the
WebAssembly module it carries upstream, which a browser without WebAssembly
cannot run (240 kB br before, 135 kB now).

In the first round on the production path (Caddy, HTTP/2, {served}; intake page,
WebAssembly): the HTML has arrived
at {n["html"]:.1f} s; sodium-preload.js loads from {n["preload_start"]:.1f} to
{n["preload_end"]:.1f} s; libsodium.wasm from {n["core_start"]:.1f} to {n["core_end"]:.1f} s
({n["core_kb"]:.0f} of the {n["total_kb"]:.0f} kB before ready); the manifest chain
({n["chain_kb"]:.0f} kB) from {n["chain_start"]:.1f} to {n["chain_end"]:.1f} s,
beside it; ready at {n["ready"]:.1f} s, {n_tail:.1f} s after the last of them. Safer
(jitless): libsodium.js from {j["core_start"]:.1f} to {j["core_end"]:.1f} s, the chain until
{j["chain_end"]:.1f} s, ready at {j["ready"]:.1f} s: {j_tail:.1f} s of the interpreter running
asm.js (libsodium starting, the chain's signatures checked) after the last byte.

What is left is the bytes and the round trips: this load's bytes alone take
{n["floor"]:.1f} s at {KBIT_S} kbit/s ({j["floor"]:.1f} s Safer), and libsodium cannot
start before the HTML and then sodium-preload.js have each taken a
{LATENCY_MS} ms round trip. Behind Caddy the page's {n["requests"]} requests go over
{connections} HTTP/2 connection(s) (the API calls have their own, see the notes)
instead of up to six HTTP/1.1 ones: ready in {prod.seconds:.1f} s
against {direct.seconds:.1f} s direct (medians; the emulation leaves out the TLS
round trip, see the notes). Further steps, not done: our own thin wrappers
for the 14 functions the pages call instead of
libsodium-wrappers.mjs (13 kB br, wrappers for about 300); for Safer,
less asm.js work before ready (its asm.js module could be cut too only by
rebuilding it from the cut WebAssembly, with binaryen's wasm2js).
"""
