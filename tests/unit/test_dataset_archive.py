"""What a crawl's archive does with the article dataset when no storage is involved."""

from __future__ import annotations

from pathlib import Path

from archiver.dataset import ARTICLES_FILE, JOURNAL_NAME
from archiver.index import write_sidecar
from tests.support.dataset_archive import new_archive, write_articles


def test_a_paused_crawl_keeps_its_journal_for_the_run_that_resumes_it(tmp_path: Path) -> None:
    archive = new_archive(tmp_path / "spool")
    archive.add_close_hook(lambda closed: [write_sidecar(closed)])
    write_articles(archive, 0, 6)
    assert archive.close(final=False) == {}
    root = archive.crawl_dir.root
    journal = (root / JOURNAL_NAME).read_text(encoding="utf-8")
    # Every response line of the closed files, so the resumed run can build the dataset
    # after their sidecars have been uploaded and removed.
    assert journal.count('"record_id"') >= 6 and '"type": "metadata"' not in journal
    assert not (root / ARTICLES_FILE).exists()


def test_without_an_uploader_the_dataset_waits_for_the_upload(tmp_path: Path) -> None:
    # Storage keys are not known until `archiver upload` sends the files: it builds the
    # dataset then, from storage (tests/integration/test_dataset_archive_s3.py).
    archive = new_archive(tmp_path / "spool")
    archive.add_close_hook(lambda closed: [write_sidecar(closed)])
    write_articles(archive, 0, 3)
    manifest = archive.close()
    root = archive.crawl_dir.root
    assert manifest["dataset"] is None and manifest["items"] == "items.jsonl"
    assert not (root / ARTICLES_FILE).exists()
    assert not (root / JOURNAL_NAME).exists()
