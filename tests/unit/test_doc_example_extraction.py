"""How the doc-examples test reads Markdown: commands, continuations, prompts, doc-test comments.

The examples themselves run in tests/e2e/test_doc_examples.py; here, without servers, the
repository's documents are also checked to mark every example they need to.
"""

from __future__ import annotations

import pytest

from tests.support.doc_examples import (
    DirectiveError,
    collect,
    extract,
    parse_directive,
    remote_hosts,
    strip_comment,
)

DOC = """# Title

```sh
. .venv/bin/activate
archiver ls --json            # every crawl
scrapy crawl news \\
    -a urls=http://127.0.0.1:8000/ \\
    -s "ARCHIVER_OPERATOR=Lab #3"
python -m archiver.devserver.samplesite
```

```
archiver/cli.py       the entry point
archiver.cli          a layer
```

```console
$ archiver find http://127.0.0.1:8000/a.html
archiver output that looks like a command
```

```python
archiver = 1
```
"""


def test_commands_are_found_with_continuations_prompts_and_comments() -> None:
    examples = extract("doc.md", DOC)
    assert [(e.line, e.text) for e in examples] == [
        (5, "archiver ls --json"),
        (
            6,
            'scrapy crawl news -a urls=http://127.0.0.1:8000/ -s "ARCHIVER_OPERATOR=Lab #3"',
        ),
        (18, "archiver find http://127.0.0.1:8000/a.html"),
    ]
    assert examples[0].test_id == "doc.md:5"
    assert all(e.error is None and not e.is_variant for e in examples)


def test_comments_before_a_block_give_each_command_its_variant_in_order() -> None:
    doc = """
<!-- doc-test: archiver find $ARTICLE -->
<!-- doc-test: as-written -->
<!-- doc-test: skip (needs a browser) -->
<!-- doc-test: exit=1 cwd=checkout timeout=30 until="Ctrl-C stops it"
archiver replay
  --url $ARTICLE -->

```sh
archiver find https://www.example-news.com/a.html
archiver verify --json
archiver export-wacz --crawl X -o x.wacz
archiver replay --url https://www.example-news.com/a.html
```
"""
    find, verify, export, replay = extract("doc.md", doc)
    assert find.is_variant and find.command == "archiver find $ARTICLE"
    assert not verify.is_variant and verify.command == "archiver verify --json"
    assert export.directive.skip == "needs a browser"
    assert replay.command == "archiver replay --url $ARTICLE"
    assert (replay.directive.exit_code, replay.directive.cwd) == (1, "checkout")
    assert (replay.directive.until, replay.directive.timeout) == ("Ctrl-C stops it", 30.0)


@pytest.mark.parametrize(
    ("doc", "message", "ids"),
    [
        (
            "<!-- doc-test: as-written -->\n```sh\narchiver ls\narchiver verify\n```\n",
            "1 doc-test comment(s) before a block of 2 command(s)",
            ["doc.md:3", "doc.md:4"],
        ),
        (
            "<!-- doc-test: archiver ls -->\n\nSome prose.\n",
            "not followed by a code block",
            ["doc.md:1"],
        ),
        (
            "<!-- doc-test: skip -->\n```sh\narchiver ls\n```\n",
            "reason in parentheses",
            ["doc.md:3"],
        ),
        (
            "<!-- doc-test: exit=x archiver ls -->\n```sh\narchiver ls\n```\n",
            "exit=x",
            ["doc.md:3"],
        ),
        (
            "<!-- doc-test: archiver ls\n```sh\narchiver ls\n```\n",
            "without its closing -->",
            ["doc.md:3"],
        ),
    ],
)
def test_a_wrong_doc_test_comment_fails_the_examples_it_was_meant_for(
    doc: str, message: str, ids: list[str]
) -> None:
    examples = extract("doc.md", doc)
    assert [e.test_id for e in examples] == ids
    assert all(e.error and message in e.error for e in examples), [e.error for e in examples]


def test_directive_options_are_checked() -> None:
    with pytest.raises(DirectiveError, match="cwd=home"):
        parse_directive("cwd=home archiver ls")
    with pytest.raises(DirectiveError, match="without a command"):
        parse_directive("exit=1 ")


def test_shell_comments_are_cut_outside_quotes_only() -> None:
    assert strip_comment("archiver ls   # crawls") == "archiver ls"
    assert strip_comment("archiver get 'a#b' x#y") == "archiver get 'a#b' x#y"


def test_hosts_off_this_machine_are_named() -> None:
    command = (
        "scrapy crawl news -a urls=https://www.example-news.com/,http://127.0.0.1:80/ -s X=$SITE/"
    )
    assert remote_hosts(command) == ["www.example-news.com"]
    assert remote_hosts("archiver find http://localhost:8000/ $SITE/a") == []


def test_every_example_of_the_repository_documents_is_well_marked() -> None:
    examples = collect()
    assert len(examples) >= 15, "the documents' examples were not found"
    assert [e.error for e in examples if e.error] == []
    unmarked = [e.test_id for e in examples if not e.is_variant and remote_hosts(e.command)]
    assert unmarked == [], "these name hosts off this machine: give them a doc-test variant"
