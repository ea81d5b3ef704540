"""What researchers read from get, fetch and export-wacz: get --json, the labelled citation,
items.jsonl fetched beside the WARCs, and no .wacz.part left when an export fails."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archiver.cli import main
from archiver.devserver.s3server import SeaweedServer
from tests.support.retrieval import ArchivedCrawl, archived_crawl, run

pytestmark = [pytest.mark.s3, pytest.mark.slow]


@pytest.fixture(scope="module")
def crawl(s3_server: SeaweedServer, tmp_path_factory: pytest.TempPathFactory) -> ArchivedCrawl:
    return archived_crawl(s3_server, tmp_path_factory.mktemp("feedback"))


def test_get_json_holds_the_citation_and_the_text_or_html(
    capsys: pytest.CaptureFixture[str], crawl: ArchivedCrawl
) -> None:
    code, out, err = run(capsys, crawl, "get", crawl.seed_url, "--text", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["url"] == crawl.seed_url and doc["status"] == "200"
    assert doc["warc_record_id"].startswith("<urn:uuid:")
    assert doc["payload_digest"].startswith("sha1:")
    assert doc["filename"].startswith(f"{crawl.date}/{crawl.crawl_id}/")
    assert isinstance(doc["offset"], int) and doc["title"] == crawl.seed["title"]
    assert doc["text"] == f"{crawl.seed['title']}\n\n{crawl.seed['body'].strip()}\n"
    assert err == "", "with --json everything is in the document"
    code, out, _ = run(capsys, crawl, "get", crawl.seed_url, "--json")
    html = json.loads(out)["html"]
    assert code == 0 and html.startswith("<!DOCTYPE html") and crawl.seed["title"][:20] in html
    code, _, err = run(capsys, crawl, "get", crawl.seed_url, "--warc", "--json")
    assert code == 2 and "--json" in err


def test_the_citation_line_labels_each_part(
    capsys: pytest.CaptureFixture[str], crawl: ArchivedCrawl
) -> None:
    code, _, err = run(capsys, crawl, "get", crawl.seed_url, "--text")
    assert code == 0
    (line,) = err.splitlines()
    labels = [part.split("=", 1)[0] for part in line.removeprefix("cite: ").split(" ")]
    assert line.startswith("cite: url=" + crawl.seed_url + " captured=")
    assert labels == ["url", "captured", "record", "digest", "warc"]
    assert f"warc={crawl.date}/{crawl.crawl_id}/" in line and "@" in line


def test_fetch_brings_the_crawls_items_jsonl(
    capsys: pytest.CaptureFixture[str], crawl: ArchivedCrawl, tmp_path: Path
) -> None:
    assert crawl.manifest["items"] == "items.jsonl"
    code, out, err = run(
        capsys, crawl, "fetch", "--crawl", crawl.crawl_id, "-o", str(tmp_path), "--json"
    )
    assert code == 0, err
    items = tmp_path / crawl.date / crawl.crawl_id / "items.jsonl"
    assert json.loads(out)["items"] == [str(items)]
    lines = [json.loads(line) for line in items.read_text(encoding="utf-8").splitlines()]
    assert crawl.seed_url in {line["url"] for line in lines}
    assert len(lines) == len({line["url"] for line in lines})
    code, out, _ = run(capsys, crawl, "fetch", "--crawl", crawl.crawl_id, "-o", str(tmp_path))
    assert code == 0 and "and 1 items.jsonl into" in out


def test_a_failed_export_leaves_no_part_file(
    capsys: pytest.CaptureFixture[str], crawl: ArchivedCrawl, tmp_path: Path
) -> None:
    damaged = "fb-damaged-" + crawl.bucket[-8:]
    crawl.server.create_bucket(damaged)
    client = crawl.server.client()
    for key in crawl.list_keys():
        client.copy_object(Bucket=damaged, Key=key, CopySource={"Bucket": crawl.bucket, "Key": key})
    entry = crawl.manifest["files"][-1]
    key = f"{crawl.prefix}/{crawl.date}/{crawl.crawl_id}/{entry['name']}"
    # A stored WARC that is no longer what the manifest says: the export must stop.
    client.put_object(Bucket=damaged, Key=key, Body=b"not the WARC that was stored")
    out_file = tmp_path / "slice.wacz"
    capsys.readouterr()
    code = main(
        ["-s", f"ARCHIVER_S3_BUCKET={damaged}", "-s", f"ARCHIVER_S3_PREFIX={crawl.prefix}",
         "export-wacz", "--crawl", crawl.crawl_id, "-o", str(out_file)]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and "differs from its manifest" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == []
