"""Run every benchmark module, print tables with ratios, and write the docs' results page.

Usage: ``python -m benchmarks [-k SUBSTRING] [--repeats N] [--no-write] [--smoke]``.

``--smoke`` runs every case for a few operations and one repeat, writes nothing, and fails if any
case raises: CI runs it so the benchmarks cannot rot between full runs.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
from collections import defaultdict
from pathlib import Path

from benchmarks import _harness, import_cost
from benchmarks._harness import (
    Case,
    MemoryCase,
    PeakMemoryCase,
    Result,
    run_group,
    run_memory,
    run_peak,
)

HERE = Path(__file__).parent
DOCS = HERE.parent / "docs"


def _modules() -> list[str]:
    return sorted(p.stem for p in HERE.glob("bench_*.py"))


def _table(group: str, results: list[Result]) -> list[str]:
    peers = [r.value for r in results if r.kind == "peer"]
    floors = [r.value for r in results if r.kind == "floor"]
    best_peer = min(peers) if peers else None
    floor = min(floors) if floors else None
    unit = results[0].unit
    lines = [
        f"#### {group}",
        "",
        f"| implementation | {unit} | fastest peer / this | this / floor |",
        "|---|---:|---:|---:|",
    ]
    for r in sorted(results, key=lambda r: r.value):
        vs_peer = f"{best_peer / r.value:.2f}x" if best_peer and r.value else "-"
        vs_floor = f"{r.value / floor:.2f}x" if floor and r.value else "-"
        name = f"**{r.impl}**" if r.kind == "ours" else r.impl
        value = f"{r.value:,.0f}" if unit != "ns" or r.value >= 100 else f"{r.value:,.1f}"
        lines.append(f"| {name} | {value} | {vs_peer} | {vs_floor} |")
    lines.append("")
    return lines


def _chart(by_module: dict[str, dict[str, list[Result]]]) -> str:
    """An SVG bar chart: for each timed group, how many times faster ours is than the best peer."""
    rows: list[tuple[str, float]] = []
    for groups in by_module.values():
        for group, results in groups.items():
            peers = [r.value for r in results if r.kind == "peer" and r.unit == "ns"]
            ours = [r for r in results if r.kind == "ours" and r.unit == "ns"]
            rows.extend(
                (f"{group} - {r.impl}" if len(ours) > 1 else group, min(peers) / r.value)
                for r in ours
                if peers and r.value
            )
    bar_h, gap, label_w, bar_w = 18, 6, 520, 360
    top = 30
    height = top + len(rows) * (bar_h + gap) + 30
    # Bars stop at 10x so that the 1x and 3x lines stay readable; the label gives the real figure.
    cap = 10.0
    biggest = min(max([x for _, x in rows] + [3.0]), cap)
    scale = bar_w / biggest
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 80}" '
        f'height="{height}" font-family="sans-serif" font-size="12">',
        f'<text x="{label_w}" y="18" font-weight="bold">'
        "speed-up over the fastest peer (higher is better)</text>",
    ]
    for i, (label, ratio) in enumerate(rows):
        y = top + i * (bar_h + gap)
        colour = "#2e7d32" if ratio >= 3 else "#f9a825" if ratio >= 1 else "#c62828"
        width = min(ratio, cap) * scale
        text = label.replace("&", "&amp;").replace("<", "&lt;")
        out += [
            f'<text x="{label_w - 8}" y="{y + 13}" text-anchor="end">{text}</text>',
            f'<rect x="{label_w}" y="{y}" width="{width:.1f}" height="{bar_h}" fill="{colour}"/>',
            f'<text x="{label_w + width + 4:.1f}" y="{y + 13}">{ratio:.1f}x</text>',
        ]
    x1 = label_w + scale
    x3 = label_w + 3 * scale
    out += [
        f'<line x1="{x1:.1f}" y1="{top - 4}" x2="{x1:.1f}" y2="{height - 24}" stroke="#555" '
        'stroke-dasharray="4 3"/>',
        f'<line x1="{x3:.1f}" y1="{top - 4}" x2="{x3:.1f}" y2="{height - 24}" stroke="#555" '
        'stroke-dasharray="2 4"/>',
        f'<text x="{x1:.1f}" y="{height - 10}" text-anchor="middle">1x</text>',
        f'<text x="{x3:.1f}" y="{height - 10}" text-anchor="middle">3x</text>',
        "</svg>",
    ]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("-k", default="", help="only groups containing this text")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-write", action="store_true", help="do not update docs/")
    parser.add_argument(
        "--smoke", action="store_true", help="a few operations per case, one repeat, no write"
    )
    args = parser.parse_args(argv)
    if args.smoke:
        _harness.SMOKE_NUMBER = 20
        args.repeats = 1
        args.no_write = True

    by_module: dict[str, dict[str, list[Result]]] = {}
    for mod_name in _modules():
        module = importlib.import_module(f"benchmarks.{mod_name}")
        groups: dict[str, list[Result]] = defaultdict(list)
        timed: dict[str, list[Case]] = defaultdict(list)
        for case in module.cases():
            if args.k not in case.group:
                continue
            if isinstance(case, MemoryCase):
                groups[case.group].append(run_memory(case))
            elif isinstance(case, PeakMemoryCase):
                groups[case.group].append(run_peak(case))
            else:
                timed[case.group].append(case)
                groups[case.group]
        for group, cases in timed.items():
            groups[group].extend(run_group(cases, args.repeats))
        for results in groups.values():
            for result in results:
                print(f"{result.group:<55} {result.impl:<45} {result.value:>12,.1f} {result.unit}")
        sys.stdout.flush()
        if groups:
            by_module[mod_name] = groups

    import_seconds = import_cost.measure(runs=1 if args.smoke else 5)
    print(f"import commerce_kit over its stdlib needs: {import_seconds * 1000:.1f} ms")
    if not args.smoke and import_seconds >= import_cost.TARGET_SECONDS:
        print(f"import cost over the {import_cost.TARGET_SECONDS * 1000:.0f} ms target")
        return 1

    lines = [
        "<!-- generated by `nox -s bench`; do not edit by hand -->",
        "",
        (
            f"Python {platform.python_version()} on {platform.machine()}, "
            f"{platform.system()}; median of {args.repeats} repeats."
        ),
        "",
        (
            f"`import commerce_kit` adds {import_seconds * 1000:.1f} ms over the standard-library "
            "modules it needs (best of 5 fresh interpreters)."
        ),
        "",
    ]
    for mod_name, groups in by_module.items():
        title = mod_name.removeprefix("bench_").replace("_", " ")
        lines += [f"### {title}", ""]
        for group, results in groups.items():
            lines += _table(group, results)
    text = "\n".join(lines)
    print()
    print(text)
    if not args.no_write and not args.k:
        (DOCS / "_bench").mkdir(exist_ok=True)
        (DOCS / "_bench" / "results.md").write_text(text + "\n")
        raw = {
            m: {g: [r.__dict__ for r in rs] for g, rs in gs.items()} for m, gs in by_module.items()
        }
        (DOCS / "_bench" / "results.json").write_text(json.dumps(raw, indent=1) + "\n")
        (DOCS / "_static").mkdir(exist_ok=True)
        (DOCS / "_static" / "benchmarks.svg").write_text(_chart(by_module))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
