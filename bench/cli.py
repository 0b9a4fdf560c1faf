"""`python -m bench`: run the benchmarks and write docs/PERFORMANCE.md."""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import machine
from bench.results import ORDER, Measurement, write

ROOT = machine.ROOT
DEFAULT_OUT = ROOT / "docs" / "PERFORMANCE.md"
QUICK_OUT = ROOT / "var" / "bench" / "PERFORMANCE-quick.md"

# key -> (module, function); groups select several.
BENCHMARKS: dict[str, tuple[str, str]] = {
    "browser-encrypt": ("bench.browser", "encrypt"),
    "browser-jitless": ("bench.browser", "encrypt_jitless"),
    "page-weight": ("bench.browser", "page_weight"),
    "ready-slow-phone": ("bench.ready", "ready"),
    "server-throughput": ("bench.server", "throughput"),
    "server-rss": ("bench.server", "rss"),
    "verifier-bulk": ("bench.verifier", "bulk"),
    "verifier-many": ("bench.verifier", "many"),
}
GROUPS = {
    "browser": ["browser-encrypt", "browser-jitless", "page-weight", "ready-slow-phone"],
    "server": ["server-throughput", "server-rss"],
    "verifier": ["verifier-bulk", "verifier-many"],
}


@dataclass
class Context:
    """What the benchmarks share: sizes (quick or full), a work folder, the
    demo organisation and one Playwright driver (made on first use)."""

    quick: bool
    work: Path
    stack: ExitStack
    keys: list[str]
    _org: Any = None
    _playwright: Any = None
    log: Callable[[str], None] = field(default=lambda line: print(line, flush=True))

    def org(self) -> Any:
        if self._org is None:
            from harness.server_process import make_demo_org

            self.log("setup: demo organisation (intake-admin demo, Argon2id key files)")
            self._org = make_demo_org(self.work / "org")
        return self._org

    def playwright(self) -> Any:
        if self._playwright is None:
            from playwright.sync_api import sync_playwright

            self._playwright = self.stack.enter_context(sync_playwright())
        return self._playwright

    def command(self, key: str) -> str:
        return f"python -m bench --only {key}" + (" --quick" if self.quick else "")

    def folder(self, name: str) -> Path:
        path = self.work / name
        path.mkdir(parents=True, exist_ok=True)
        return path


def _select(only: str | None) -> list[str]:
    if not only:
        return list(ORDER)
    keys: list[str] = []
    for part in only.split(","):
        name = part.strip()
        if name in GROUPS:
            keys += GROUPS[name]
        elif name in BENCHMARKS:
            keys.append(name)
        else:
            raise SystemExit(
                f"bench: unknown benchmark {name!r}; choose from "
                f"{', '.join([*GROUPS, *BENCHMARKS])}"
            )
    return [key for key in ORDER if key in keys]


def run_one(ctx: Context, key: str) -> Measurement:
    module_name, function = BENCHMARKS[key]
    module = importlib.import_module(module_name)
    load_before = machine.load_average()
    started = time.monotonic()
    when = machine.now()
    result: Measurement = getattr(module, function)(ctx)
    result.key = key
    result.command = ctx.command(key)
    result.when = when
    result.seconds = time.monotonic() - started
    result.load = [load_before, machine.load_average()]
    result.machine = machine.describe()
    result.quick = ctx.quick
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Measure the browser, server and verifier beside their baselines; "
        "write docs/PERFORMANCE.md.",
    )
    parser.add_argument(
        "--only",
        metavar="KEYS",
        help=f"comma-separated benchmarks or groups: {', '.join([*GROUPS, *ORDER])}",
    )
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, to try the benchmark (about 2 min)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        help=f"document to write (default {DEFAULT_OUT.relative_to(ROOT)}; "
        f"with --quick {QUICK_OUT.relative_to(ROOT)})",
    )
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    if args.list:
        for key in ORDER:
            print(key)
        return 0
    keys = _select(args.only)
    out: Path = args.out or (QUICK_OUT if args.quick else DEFAULT_OUT)
    (ROOT / "var").mkdir(exist_ok=True)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-", dir=ROOT / "var"))
    work.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    done: dict[str, Measurement] = {}
    try:
        with ExitStack() as stack:
            ctx = Context(quick=args.quick, work=work, stack=stack, keys=keys)
            for key in keys:
                print(f"== {key}", flush=True)
                try:
                    done[key] = run_one(ctx, key)
                except Exception:
                    traceback.print_exc()
                    failures.append(key)
                    continue
                headline = done[key].headline
                if headline is not None:
                    print(f"   {headline.item}: {headline.shown}", flush=True)
                write(out, {key: done[key]})
    finally:
        if not args.keep and args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"wrote {out}" if done else "nothing measured")
    if failures:
        print(f"bench: failed: {', '.join(failures)}", file=sys.stderr)
        return 1
    return 0
