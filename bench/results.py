"""Benchmark results and docs/PERFORMANCE.md.

Each benchmark returns a `Measurement`: its figures beside the baseline
measured in the same run, how it was measured, and the command that produced
it. The document is rendered from every measurement it holds; the raw
results travel inside it (an HTML comment at the end), so running a subset
(`--only`) replaces those sections and keeps the others as they were.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULTS_MARK = "bench-results"
_RESULTS_RE = re.compile(r"<!-- " + RESULTS_MARK + r"\n(.*?)\n-->", re.S)

# Order of the sections in the document.
ORDER = [
    "browser-encrypt",
    "browser-jitless",
    "page-weight",
    "ready-slow-phone",
    "server-throughput",
    "server-rss",
    "verifier-bulk",
    "verifier-many",
]


@dataclass
class Target:
    """A target shown beside a figure (never asserted): `value` compared by `op`."""

    text: str  # "≥ 50 % of raw libsodium.js"
    op: str  # ">=" or "<="
    value: float

    def met(self, figure: float) -> bool:
        return figure >= self.value if self.op == ">=" else figure <= self.value


@dataclass
class Headline:
    """The one line of the summary table for a measurement."""

    item: str
    ours: str
    baseline: str
    figure: float  # what the target is checked against (a ratio, or MB)
    shown: str  # the figure as printed ("43 %", "12.5 MB")
    target: Target | None = None

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.target.met(self.figure)

    @classmethod
    def share(
        cls, item: str, ours: str, baseline: str, ratio: float, of: str, target: Target
    ) -> Headline:
        """A headline whose figure is ours as a share of the baseline ("87 % of raw")."""
        return cls(item, ours, baseline, ratio, f"{100 * ratio:.0f} % of {of}", target)


@dataclass
class Measurement:
    """What a benchmark measured; `bench.cli.run_one` fills in how the run went
    (key, command, when, seconds, load, machine, quick)."""

    title: str
    headline: Headline | None
    table: list[list[str]]  # first row is the header
    method: str
    notes: list[str] = field(default_factory=list)
    analysis: str = ""  # why a target is not met (shown only when it is not)
    key: str = ""
    command: str = ""
    when: str = ""
    seconds: float = 0.0
    load: list[float] = field(default_factory=list)  # 1-minute load average before and after
    machine: dict[str, str] = field(default_factory=dict)
    quick: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Measurement:
        data = dict(data)
        headline = data.pop("headline")
        if headline is not None:
            target = headline.pop("target")
            headline = Headline(**headline, target=Target(**target) if target else None)
        return cls(**data, headline=headline)


def load_results(path: Path) -> dict[str, Measurement]:
    """The measurements embedded in an existing document (none if it has none)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    match = _RESULTS_RE.search(text)
    if not match:
        return {}
    try:
        raw = json.loads(match.group(1))
        return {key: Measurement.from_json(value) for key, value in raw.items()}
    except (ValueError, TypeError, KeyError):
        return {}  # an older format: those sections are simply measured again


def _table(rows: list[list[str]]) -> str:
    head, *body = rows
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(" --- " for _ in head) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def _met(value: bool | None) -> str:
    return {True: "yes", False: "**no**", None: "—"}[value]


def render(results: dict[str, Measurement]) -> str:
    ordered = [results[key] for key in ORDER if key in results]
    ordered += [m for key, m in sorted(results.items()) if key not in ORDER]
    out = [
        "# Performance",
        "",
        "Written by `python -m bench` (`make bench`); do not edit by hand. Every figure",
        "is measured beside its baseline in the same run, on the machine described",
        "below; each section names the command that produced it. Targets are shown,",
        "not asserted. `python -m bench --only KEY` re-measures one section",
        f"({', '.join(ORDER)}); `--quick` runs small sizes for trying the benchmark",
        "and writes to var/bench/ instead of this file.",
        "",
        "## Summary",
        "",
    ]
    rows = [["measurement", "ours", "baseline (same run)", "result", "target", "met"]]
    for m in ordered:
        h = m.headline
        if h is None:
            continue
        target = h.target.text if h.target else "—"
        rows.append([f"[{h.item}](#{m.key})", h.ours, h.baseline, h.shown, target, _met(h.met)])
    out += [_table(rows), ""]
    unmet = [m for m in ordered if m.headline is not None and m.headline.met is False]
    if unmet:
        out += ["**Targets not met:**", ""]
        for m in unmet:
            h = m.headline
            if h is None or h.target is None:  # pragma: no cover - filtered above
                continue
            first = m.analysis.strip().split("\n\n")[0] if m.analysis else "See the section."
            first = " ".join(first.split())
            out.append(f"- **{h.item}**: {h.shown} against {h.target.text}. {first}")
        out.append("")
    else:
        out += ["Every target with a figure is met.", ""]
    if any(m.quick for m in ordered):
        out += ["> **Quick run**: small sizes, figures only indicative.", ""]

    machines: dict[str, list[str]] = {}
    described: dict[str, dict[str, str]] = {}
    for m in ordered:
        ident = json.dumps(m.machine, sort_keys=True)
        machines.setdefault(ident, []).append(m.key)
        described[ident] = m.machine
    out += ["## Machine", ""]
    for ident, keys in machines.items():
        if len(machines) > 1:
            out += [f"For {', '.join(keys)}:", ""]
        out += [f"- {name}: {value}" for name, value in described[ident].items()]
        out.append("")

    for m in ordered:
        out += [f'<a id="{m.key}"></a>', "", f"## {m.title}", ""]
        out += [_table(m.table), ""]
        if m.headline is not None and m.headline.target is not None:
            verdict = "met" if m.headline.met else "**not met**"
            out += [f"Target: {m.headline.target.text}: {verdict} ({m.headline.shown}).", ""]
        if m.analysis and m.headline is not None and m.headline.met is False:
            out += ["### Why the target is not met", "", m.analysis.strip(), ""]
        out += ["**Method.** " + m.method.strip(), ""]
        out += [f"- {note}" for note in m.notes]
        if m.notes:
            out.append("")
        load = " → ".join(f"{x:.2f}" for x in m.load)
        out += [
            f"Command: `{m.command}` · measured {m.when} · took {m.seconds:.0f} s · "
            f"1-minute load average {load}" + (" · quick run" if m.quick else ""),
            "",
        ]
    payload = json.dumps({key: m.to_json() for key, m in results.items()}, indent=1)
    out += [f"<!-- {RESULTS_MARK}", payload.replace("--", "-\\u002d"), "-->", ""]
    return "\n".join(out)


def write(path: Path, new: dict[str, Measurement]) -> None:
    """Merge `new` into the measurements already in `path` and rewrite it."""
    results = load_results(path)
    results.update(new)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(results), encoding="utf-8")
