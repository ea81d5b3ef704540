"""CI gate: the cleaner's quality on its three development sets must not drop.

Runs the shared scorers (../shared/bench/ from the repository root) in this process on
their sets: extraction_eval.py on the article-extraction-benchmark (181 pages, 4-word
shingles against a hand-made body), snippet_eval.py on trafilatura-eval-dev (495
pages, must-appear and must-not-appear snippets) and date_eval.py on htmldate-eval-dev
(520 pages, publication dates). Each floor is the figure reached when
the gate was set, less 0.003; raise a floor when the cleaner gets better, never lower it to
make a change pass. `python -m bench.cleaning` prints the same figures beside trafilatura's.

../shared is not part of the repository: without it the gate is skipped, naming the
missing path, except under CI (`CI=true`), where it fails.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from archiver.cleaning import extract_body
from archiver.cleaning.metadata import extract_published
from tests.support.shared import SHARED, require_shared

EXTRACTION_SCORER = SHARED / "bench" / "extraction_eval.py"
EXTRACTION_SET = SHARED / "datasets" / "article-extraction-benchmark"
SNIPPET_SCORER = SHARED / "bench" / "snippet_eval.py"
SNIPPET_SET = SHARED / "datasets" / "trafilatura-eval-dev"
DATE_SCORER = SHARED / "bench" / "date_eval.py"
DATE_SET = SHARED / "datasets" / "htmldate-eval-dev"

# The margin under each figure reached: 0.003 is about one bootstrap standard deviation of
# F1 on the benchmark (0.003) and half of it on trafilatura-eval-dev (0.006), so a real drop
# fails while a one-page wobble (a page weighs 0.0055 in the benchmark's means) may pass.
#
# article-extraction-benchmark, measured 2026-12-07 with the cleaner of issue 12 (fourth
# round, hand-made held-out pages): F1 0.9785, f1_mean 0.9773, 0 empty (181 pages). The fifth
# round's phrases in ten more languages drop three lines this set's truth keeps (0.9782,
# f1_mean 0.9770); the floors stay.
MIN_F1 = 0.9755
MIN_F1_MEAN = 0.9743
MAX_EMPTY = 0
# trafilatura-eval-dev, measured 2026-12-07 with the cleaner of issue 12 (fourth round): F1
# 0.9476, 0 empty (495 pages; 14 empty before that issue, 3 after its first round). No page
# may come out empty again.
MIN_SNIPPET_F1 = 0.9446
MAX_SNIPPET_EMPTY = 0
# htmldate-eval-dev (publication dates, issue 16), measured 2026-12-07 after the third
# round: accuracy 0.9423 (490 of 520 pages), no date on 8 (htmldate 0.917, trafilatura
# 0.915). The issue allows no date on 2% of pages (10); the gate keeps that.
MIN_DATE_ACCURACY = 0.9393
MAX_NO_DATE = 10


def _scorer(path: Path) -> ModuleType:
    """A shared scorer, imported from its file (../shared/bench is not a package)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def test_article_benchmark_f1_does_not_drop() -> None:
    require_shared(EXTRACTION_SCORER, EXTRACTION_SET)
    scorer = _scorer(EXTRACTION_SCORER)
    pages = scorer.load_dataset(EXTRACTION_SET)
    assert len(pages) == 181
    outputs, _, errors = scorer.run_extractor(extract_body, pages, warmup=0, fail_fast=False)
    assert not errors
    rows = [scorer.score_page(p["truth"], outputs[p["id"]], 4) for p in pages]
    summary = scorer.aggregate(rows)
    empty = sum(1 for r in rows if r["pred_shingles"] == 0)
    print(f"F1 {summary['f1']:.4f} f1_mean {summary['f1_mean']:.4f} "
          f"P {summary['precision']:.4f} R {summary['recall']:.4f} empty {empty}")  # fmt: skip
    assert summary["f1"] >= MIN_F1
    assert summary["f1_mean"] >= MIN_F1_MEAN
    assert empty <= MAX_EMPTY


def _run_on_bytes(
    scorer: ModuleType, func: Callable[..., object], pages: list[dict[str, Any]]
) -> dict[str, Any]:
    """The extractor's output on each page, given the raw bytes as the scorer gives them to
    every extractor. No per-page time-out: the scorer would take SIGALRM, which
    pytest-timeout uses for the test's own time limit."""
    outputs, _, errors = scorer.run_extractor(
        func, pages, as_text=False, warmup=0, fail_fast=False, page_timeout=0
    )
    assert not errors
    return dict(outputs)


def test_trafilatura_eval_dev_f1_does_not_drop() -> None:
    require_shared(SNIPPET_SCORER, SNIPPET_SET)
    scorer = _scorer(SNIPPET_SCORER)
    pages = scorer.load_dataset(SNIPPET_SET)
    assert len(pages) == 495
    outputs = _run_on_bytes(scorer, extract_body, pages)
    counts = [scorer.count_page(p["item"], outputs[p["id"]])[0] for p in pages]
    summary = scorer.scores(*scorer.pooled(counts))
    empty = sum(1 for text in outputs.values() if not text)
    print(f"F1 {summary['f1']:.4f} P {summary['precision']:.4f} "
          f"R {summary['recall']:.4f} empty {empty}")  # fmt: skip
    assert summary["f1"] >= MIN_SNIPPET_F1
    assert empty <= MAX_SNIPPET_EMPTY


def test_publication_date_accuracy_does_not_drop() -> None:
    require_shared(DATE_SCORER, DATE_SET)
    scorer = _scorer(DATE_SCORER)
    pages = scorer.load_dataset(DATE_SET)
    assert len(pages) == 520
    outputs = _run_on_bytes(scorer, extract_published, pages)
    counts = [scorer.count_page(outputs[p["id"]], p["label"]) for p in pages]
    summary = scorer.scores(*scorer.pooled(counts))
    no_date = sum(1 for result in outputs.values() if result is None)
    print(f"accuracy {summary['accuracy']:.4f} no date {no_date}")
    assert summary["accuracy"] >= MIN_DATE_ACCURACY
    assert no_date <= MAX_NO_DATE
