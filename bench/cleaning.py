"""Cleaning quality and speed against trafilatura and readability-lxml, on both development sets.

    make bench-baselines                              # once: the baselines' own virtualenv
    .venv/bin/python -m bench.cleaning                # both sets, all three systems
    .venv/bin/python -m bench.cleaning --repeat 3     # speed: best of three passes each
    .venv/bin/python -m bench.cleaning --only ours --limit 50   # a quick look at our cleaner

Each set is scored by its own scorer in ../shared/bench (the shared data, not our code,
called as a program): the article-extraction-benchmark (181 pages, extraction_eval.py:
4-word shingles against a hand-made body) and trafilatura-eval-dev (495 pages,
snippet_eval.py: must-appear and must-not-appear snippets, as trafilatura's own evaluation).
The systems, in the same run (with --repeat, passes alternate between them, so that load from
other processes on the machine does not favour one):

- ours: `archiver.cleaning:extract_body`, under this interpreter;
- trafilatura 2.3.1 with its library defaults (`baselines:trafilatura_default` of
  ../shared/bench/baselines.py) and readability-lxml (`baselines:readability_text`), under
  var/baselines-venv (`make bench-baselines`: their pins are not the project's).

Publication dates (issue 16) in the same run: htmldate-eval-dev (520 pages, date_eval.py)
with our `archiver.cleaning.metadata:extract_published` against htmldate
(`baselines:htmldate_original`, original_date=True) and trafilatura (`baselines:trafilatura_date`);
printed: accuracy, precision, recall, pages with no date, speed, and the targets (accuracy >=
htmldate's, no date on <= 2% of pages).  Our body speed figures include the dates, which
clean_html computes for every page.

Printed per set: F1, precision, recall, empty outputs and speed of each system, `ratio`
lines (our pages/s over trafilatura's, target >= 1.5) and the issue's quality targets; for
trafilatura-eval-dev also F1 per language, the language a page declares (`<html lang>`,
else a Content-Language `<meta>`); docs/cleaning.md has the figures.  Speed twice: pages/s
as the scorer times the calls (wall clock), and CPU pages/s, the CPU time of the same calls
(bench/_cputimed.py), which load from other processes on a shared machine does not stretch.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench._common import REPO, ratio_line

SHARED = REPO.parent / "shared"
BASELINES_PYTHON = REPO / "var" / "baselines-venv" / "bin" / "python"
TRAFILATURA_VERSION = "2.3.1"
# The first pages are run once untimed: loading rules and warming caches is not per-page work.
WARMUP = 3
# Languages with fewer pages than this are pooled as "other": a handful of pages says nothing.
MIN_LANGUAGE_PAGES = 5


@dataclass(frozen=True)
class DevSet:
    """A development set, its scorer and the issue's quality targets on it."""

    name: str
    scorer: Path
    data: Path
    min_f1: float
    max_empty: int | None = None


@dataclass(frozen=True)
class System:
    """An extractor as the scorers name it (module:function) and the interpreter that has it."""

    name: str
    extractor: str
    baseline: bool


SETS = (
    DevSet(
        "article-extraction-benchmark",
        SHARED / "bench" / "extraction_eval.py",
        SHARED / "datasets" / "article-extraction-benchmark",
        min_f1=0.975,
    ),
    DevSet(
        "trafilatura-eval-dev",
        SHARED / "bench" / "snippet_eval.py",
        SHARED / "datasets" / "trafilatura-eval-dev",
        min_f1=0.935,
        max_empty=3,
    ),
)
SYSTEMS = (
    System("ours", "archiver.cleaning:extract_body", baseline=False),
    System("trafilatura", "baselines:trafilatura_default", baseline=True),
    System("readability", "baselines:readability_text", baseline=True),
)
# Publication dates (issue 16): htmldate-eval-dev, scored by date_eval.py (accuracy as
# htmldate's own comparison computes it), against htmldate with original_date=True and
# trafilatura's date (htmldate inside), the baselines of ../shared/bench/baselines.py.
DATE_SET = DevSet(
    "htmldate-eval-dev",
    SHARED / "bench" / "date_eval.py",
    SHARED / "datasets" / "htmldate-eval-dev",
    min_f1=0.0,
)
DATE_SYSTEMS = (
    System("ours", "archiver.cleaning.metadata:extract_published", baseline=False),
    System("htmldate", "baselines:htmldate_original", baseline=True),
    System("trafilatura", "baselines:trafilatura_date", baseline=True),
)
MAX_NO_DATE = 0.02  # the target: pages where we find no date, at most 2% of them


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="passes, alternating between the systems; the best speed of each counts",
    )
    parser.add_argument("--limit", type=int, help="only the first N pages of each set")
    parser.add_argument("--only", choices=sorted({s.name for s in SYSTEMS + DATE_SYSTEMS}),
                        action="append", help="run only this system (repeatable)")  # fmt: skip
    parser.add_argument("--set", choices=[s.name for s in (*SETS, DATE_SET)], action="append",
                        dest="sets", help="run only this set (repeatable)")  # fmt: skip
    parser.add_argument("--baselines-python", type=Path, default=BASELINES_PYTHON,
                        help="interpreter with trafilatura and readability-lxml "
                        "(default: var/baselines-venv/bin/python, from make bench-baselines)")  # fmt: skip
    return parser.parse_args(argv)


def baseline_versions(python: Path) -> dict[str, str] | None:
    """Versions of the baselines installed under python, or None when it cannot run them."""
    if not python.exists():
        return None
    code = (
        "import json, importlib.metadata as m, trafilatura, readability, html_text, htmldate\n"
        "print(json.dumps({n: m.version(n) for n in ('trafilatura', 'readability-lxml',"
        " 'htmldate')}))"
    )
    proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        print(f"warning: {python} cannot import the baselines: {proc.stderr.strip()[-300:]}")
        return None
    versions: dict[str, str] = json.loads(proc.stdout)
    return versions


def score(dev: DevSet, system: System, python: Path, limit: int | None) -> dict[str, Any]:
    """Run the set's scorer on one system: its JSON summary, per-page rows and CPU pages/s."""
    with tempfile.TemporaryDirectory(prefix="bench-cleaning-") as tmp:
        pages_csv, cpu_json = Path(tmp) / "pages.csv", Path(tmp) / "cpu.json"
        command = [str(python), str(dev.scorer), "bench._cputimed:extract", "--data", str(dev.data),
                   "--quiet", "--warmup", str(WARMUP), "--per-page", str(pages_csv)]  # fmt: skip
        if limit:
            command += ["--limit", str(limit)]
        env = dict(os.environ, BENCH_CLEANING_EXTRACTOR=system.extractor,
                   BENCH_CLEANING_CPU_OUT=str(cpu_json))  # fmt: skip
        proc = subprocess.run(
            command, cwd=REPO, env=env, capture_output=True, text=True, timeout=3600
        )
        lines = proc.stdout.strip().splitlines()
        if proc.returncode != 0 or not lines:
            raise SystemExit(f"{system.name} on {dev.name} failed:\n{proc.stderr[-3000:]}")
        summary: dict[str, Any] = json.loads(lines[-1])
        with pages_csv.open(newline="", encoding="utf-8") as fh:
            summary["rows"] = list(csv.DictReader(fh))
        # The scorer's warm-up calls come first; the timed calls are the last `pages`.
        cpu = json.loads(cpu_json.read_text(encoding="utf-8"))[-summary["pages"] :]
        summary["cpu_pages_per_s"] = len(cpu) / sum(cpu) if sum(cpu) else float("nan")
    return summary


_HTML_LANG = re.compile(rb"<html\b[^>]*?\slang\s*=\s*[\"']?\s*([A-Za-z]{2,3})\b", re.I)
_META = re.compile(rb"<meta\b[^>]*>", re.I)
_CONTENT_LANGUAGE = re.compile(rb"http-equiv\s*=\s*[\"']?content-language", re.I)
_CONTENT = re.compile(rb"\bcontent\s*=\s*[\"']?\s*([A-Za-z]{2,3})\b", re.I)


def declared_language(head: bytes) -> str:
    """The primary language subtag a page declares: `<html lang>`, else Content-Language."""
    match = _HTML_LANG.search(head)
    if match:
        return match[1].decode("ascii").lower()
    for meta in _META.findall(head):
        content = _CONTENT.search(meta)
        if content and _CONTENT_LANGUAGE.search(meta):
            return content[1].decode("ascii").lower()
    return "undeclared"


def page_languages(dev: DevSet) -> dict[str, str]:
    """Each annotated page's declared language; rare ones pooled as "other"."""
    annotations = json.loads((dev.data / "evaldata-dev.json").read_text(encoding="utf-8"))
    found = {}
    for key, item in annotations.items():
        with (dev.data / "html" / item["file"]).open("rb") as fh:
            found[key] = declared_language(fh.read(65536))
    counts = Counter(found.values())
    return {k: lang if counts[lang] >= MIN_LANGUAGE_PAGES else "other" for k, lang in found.items()}


def snippet_f1(rows: list[dict[str, str]]) -> float:
    """Pooled snippet F1 of some pages, 2TP / (2TP + FP + FN), as snippet_eval.py computes it."""
    tp, fp, fn = (sum(int(r[k]) for r in rows) for k in ("tp", "fp", "fn"))
    return 2 * tp / (2 * tp + fp + fn) if tp or fp or fn else 0.0


def print_languages(dev: DevSet, results: dict[str, dict[str, Any]]) -> None:
    """F1 per declared language, of every system that ran, and our empty outputs."""
    languages = page_languages(dev)
    groups = Counter(languages[r["id"]] for r in next(iter(results.values()))["rows"])
    print(f"per language ({dev.name}; as the page declares it): pages, F1 of each system"
          + (", our empty outputs" if "ours" in results else ""))  # fmt: skip
    print(f"  {'lang':<11} {'pages':>5}" + "".join(f" {name:>12}" for name in results))
    for lang, pages in groups.most_common():
        cells = ""
        for result in results.values():
            rows = [r for r in result["rows"] if languages[r["id"]] == lang]
            cells += f" {snippet_f1(rows):12.3f}"
        if "ours" in results:
            ours = [r for r in results["ours"]["rows"] if languages[r["id"]] == lang]
            cells += f" {sum(1 for r in ours if r['chars'] == '0'):8d} empty"
        print(f"  {lang:<11} {pages:5d}{cells}")


def target_line(name: str, value: float, target: str) -> str:
    """A `target` line: a quality figure and whether the issue's target is met."""
    op, _, number = target.partition(" ")
    met = value >= float(number) if op == ">=" else value <= float(number)
    shown = f"{value:8.3f}" if isinstance(value, float) else f"{value:8d}"
    return f"target {name:<33} {shown}  (target {target}: {'met' if met else 'NOT met'})"


def print_set(dev: DevSet, results: dict[str, dict[str, Any]]) -> None:
    """The figures of one set: a line per system, the speed ratio and the quality targets."""
    first = next(iter(results.values()))
    print(f"== {dev.name}: {first['pages']} pages, scored by ../shared/bench/{dev.scorer.name}")
    print(f"  {'system':<12} {'F1':>12} {'precision':>9} {'recall':>7} {'empty':>5} "
          f"{'pages/s':>8} {'CPU pages/s':>11}")  # fmt: skip
    for name, r in results.items():
        f1 = f"{r['f1']:.3f} ± {r.get('f1_std', 0):.3f}"
        print(f"  {name:<12} {f1:>12} {r['precision']:9.3f} {r['recall']:7.3f} "
              f"{r['empty']:5d} {r['pages_per_s']:8.1f} {r['cpu_pages_per_s']:11.1f}")  # fmt: skip
    if "ours" in results and "trafilatura" in results:
        ours, base = results["ours"], results["trafilatura"]
        for rate, label in (("pages_per_s", "pages/s"), ("cpu_pages_per_s", "CPU pages/s")):
            name = f"{label} ours / trafilatura, {dev.name}"
            print(ratio_line(name, ours[rate], base[rate], ">= 1.5"))
    if "ours" in results:
        print(target_line(f"F1 ours, {dev.name}", results["ours"]["f1"], f">= {dev.min_f1}"))
        if dev.max_empty is not None:
            empty = results["ours"]["empty"]
            print(target_line(f"empty ours, {dev.name}", empty, f"<= {dev.max_empty}"))
    if dev.name == "trafilatura-eval-dev":
        print_languages(dev, results)


def runnable_systems(
    args: argparse.Namespace, pool: tuple[System, ...] = SYSTEMS, *, announce: bool = True
) -> list[System]:
    """The systems asked for, less the baselines when their virtualenv is missing (said so)."""
    systems = [s for s in pool if not args.only or s.name in args.only]
    if not any(s.baseline for s in systems):
        return systems
    versions = baseline_versions(args.baselines_python)
    if versions is None:
        print(f"baselines not installed ({args.baselines_python} missing or broken): run "
              "`make bench-baselines` to compare with trafilatura, readability-lxml and "
              "htmldate; only our figures follow")  # fmt: skip
        return [s for s in systems if not s.baseline]
    if announce:
        print("baselines " + ", ".join(f"{name} {v}" for name, v in versions.items()))
        if versions.get("trafilatura") != TRAFILATURA_VERSION:
            print(f"warning: trafilatura is not {TRAFILATURA_VERSION}: run make bench-baselines")
    return systems


def print_dates(results: dict[str, dict[str, Any]]) -> None:
    """Publication-date accuracy of every system that ran, and the issue's targets."""
    first = next(iter(results.values()))
    pages = first["pages"]
    print(f"== {DATE_SET.name}: {pages} pages, scored by ../shared/bench/{DATE_SET.scorer.name}")
    print(f"  {'system':<12} {'accuracy':>14} {'precision':>9} {'recall':>7} {'no date':>7} "
          f"{'pages/s':>8} {'CPU pages/s':>11}")  # fmt: skip
    for name, r in results.items():
        accuracy = f"{r['accuracy']:.3f} ± {r.get('accuracy_std', 0):.3f}"
        print(f"  {name:<12} {accuracy:>14} {r['precision']:9.3f} {r['recall']:7.3f} "
              f"{r['none']:7d} {r['pages_per_s']:8.1f} {r['cpu_pages_per_s']:11.1f}")  # fmt: skip
    if "ours" not in results:
        return
    ours = results["ours"]
    if "htmldate" in results:
        target = f">= {results['htmldate']['accuracy']}"
        print(target_line("date accuracy ours (>= htmldate's)", ours["accuracy"], target))
    print(target_line("pages with no date ours", ours["none"], f"<= {int(MAX_NO_DATE * pages)}"))


def main(argv: list[str] | None = None) -> int:
    """Score every system on every set, then print the figures set by set."""
    args = parse_args(argv)
    sets = [s for s in SETS if not args.sets or s.name in args.sets]
    missing = [str(p) for s in sets for p in (s.scorer, s.data) if not p.exists()]
    if missing:
        print(f"missing: {', '.join(missing)}: put ../shared beside the repository")
        return 1
    dates = not args.sets or DATE_SET.name in args.sets
    if dates and not (DATE_SET.scorer.exists() and DATE_SET.data.exists()):
        print(f"missing: {DATE_SET.scorer} or {DATE_SET.data}: put ../shared beside the repository")
        return 1
    systems = runnable_systems(args) if sets else []
    date_systems = runnable_systems(args, DATE_SYSTEMS, announce=not systems) if dates else []
    if not systems and not date_systems:
        return 1
    results: dict[str, dict[str, dict[str, Any]]] = {s.name: {} for s in (*sets, DATE_SET)}
    for _ in range(max(1, args.repeat)):
        plan = [(dev, system) for dev in sets for system in systems]
        plan += [(DATE_SET, system) for system in date_systems]
        for dev, system in plan:
            python = args.baselines_python if system.baseline else Path(sys.executable)
            got = score(dev, system, python, args.limit)
            kept = results[dev.name].setdefault(system.name, got)
            for rate in ("pages_per_s", "cpu_pages_per_s"):
                kept[rate] = max(kept[rate], got[rate])
    for dev in sets:
        print_set(dev, results[dev.name])
    if results[DATE_SET.name]:
        print_dates(results[DATE_SET.name])
    return 0


if __name__ == "__main__":
    sys.exit(main())
