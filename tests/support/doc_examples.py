"""The shell examples of README.md and docs/*.md, as tests/e2e/test_doc_examples.py runs them.

Every line of a shell code block (```sh, ```console, ``` ...) that starts with `archiver` or
`scrapy crawl` is an example. An HTML comment right before the block can say how to run
each of its commands here, one `<!-- doc-test: ... -->` per command, in order:

    <!-- doc-test: archiver find $ARTICLE -->       run this instead (a marked variant)
    <!-- doc-test: as-written -->                   run the command as the block shows it
    <!-- doc-test: skip (why) -->                   do not run it, saying why

with options before the command (or before `as-written`): `exit=N` (the example's text
says it fails with N), `cwd=checkout` (run in the checkout, not in an empty directory),
`until="TEXT"` (a server: wait for TEXT in its output, then stop it as Ctrl-C would),
`timeout=SECONDS`. CONTRIBUTING.md has the variables a variant can use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.paths import ROOT

COMMAND = re.compile(r"^(archiver|scrapy\s+crawl)(\s|$)")
FENCE = re.compile(r"^\s*(```+|~~~+)\s*([\w+-]*)")
SHELL_LANGUAGES = frozenset({"", "sh", "bash", "shell", "console", "zsh"})
DIRECTIVE_START = re.compile(r"^\s*<!--\s*doc-test:")
OPTION = re.compile(r'^(exit|cwd|until|timeout)=("[^"]*"|\S+)\s+')
SKIP = re.compile(r"^skip\s*\((.+)\)$")
URL_HOST = re.compile(r"\b[a-z][a-z0-9+.-]*://([^/\s:'\"@]+)")
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})
DEFAULT_TIMEOUT = 180.0


class DirectiveError(ValueError):
    """A doc-test comment that cannot be read."""


@dataclass
class Directive:
    """How to run one documented command here: instead of it, as written, or not at all."""

    command: str | None = None  # None: as written
    skip: str | None = None
    exit_code: int = 0
    cwd: str = "tmp"
    until: str | None = None
    timeout: float = DEFAULT_TIMEOUT


@dataclass
class DocExample:
    """One documented command and how the test runs it."""

    path: str  # relative to the repository root
    line: int  # 1-based line of the command's first line
    text: str  # the command as the document shows it (continuations joined, comment cut)
    directive: Directive = field(default_factory=Directive)
    error: str | None = None  # the document's markup is wrong; the test fails with this

    @property
    def test_id(self) -> str:
        """`file:line`, the parametrized test's id."""
        return f"{self.path}:{self.line}"

    @property
    def command(self) -> str:
        """The shell command the test runs."""
        return self.directive.command if self.directive.command is not None else self.text

    @property
    def is_variant(self) -> bool:
        """True when a doc-test comment gives another command to run."""
        return self.directive.command is not None


def strip_comment(line: str) -> str:
    """The line without a trailing shell comment (`#` outside quotes, at a word's start)."""
    quote = ""
    for i, char in enumerate(line):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def parse_directive(text: str) -> Directive:
    """Read the text after `doc-test:` (options, then a command, `as-written` or `skip (why)`)."""
    rest = " ".join(part.strip() for part in text.split("\n") if part.strip()) + " "
    directive = Directive()
    while match := OPTION.match(rest):
        name, value = match.group(1), match.group(2).strip('"')
        rest = rest[match.end() :]
        if name == "exit":
            if not value.isdigit():
                raise DirectiveError(f"exit={value}: give the expected exit code, a number")
            directive.exit_code = int(value)
        elif name == "cwd":
            if value not in {"checkout", "tmp"}:
                raise DirectiveError(f"cwd={value}: use cwd=checkout (default: an empty directory)")
            directive.cwd = value
        elif name == "until":
            directive.until = value
        else:
            try:
                directive.timeout = float(value)
            except ValueError:
                raise DirectiveError(f"timeout={value}: give seconds, a number") from None
    rest = rest.strip()
    if not rest:
        raise DirectiveError("doc-test comment without a command, `as-written` or `skip (why)`")
    if skip := SKIP.match(rest):
        directive.skip = skip.group(1).strip()
    elif rest.startswith("skip"):
        raise DirectiveError("`skip` needs its reason in parentheses: skip (why)")
    elif rest != "as-written":
        directive.command = rest
    return directive


@dataclass
class _Block:
    directives: list[Directive]
    commands: list[tuple[int, str]]
    directive_error: str | None
    start: int


def _read_directive(lines: list[str], i: int) -> tuple[str, int]:
    """The text of the comment starting at line i, and the line after it."""
    text = DIRECTIVE_START.sub("", lines[i], count=1)
    while "-->" not in text:
        i += 1
        if i >= len(lines):
            raise DirectiveError("doc-test comment without its closing -->")
        text += "\n" + lines[i]
    before, _, after = text.partition("-->")
    if after.strip():
        raise DirectiveError("text after a doc-test comment's --> on the same line")
    return before, i + 1


def _block_commands(body: list[tuple[int, str]], language: str) -> list[tuple[int, str]]:
    """The `archiver` and `scrapy crawl` commands of a code block's lines, continuations joined."""
    commands: list[tuple[int, str]] = []
    i = 0
    while i < len(body):
        number, raw = body[i]
        line = raw.strip()
        prompted = line.startswith("$ ")
        if prompted:
            line = line[2:].lstrip()
        i += 1
        if language == "console" and not prompted:
            continue  # output, not a command
        parts = [line]
        while parts[-1].endswith("\\") and i < len(body):
            parts[-1] = parts[-1][:-1].rstrip()
            nxt = body[i][1].strip()
            parts.append(nxt[2:] if nxt.startswith("> ") else nxt)
            i += 1
        command = strip_comment(" ".join(p for p in parts if p))
        if COMMAND.match(command):
            commands.append((number, command))
    return commands


def _blocks(text: str) -> list[_Block]:
    """The document's fenced blocks with the doc-test comments right before each."""
    lines = text.split("\n")
    blocks: list[_Block] = []
    pending: list[Directive] = []
    pending_error: str | None = None
    pending_line = 0
    i = 0
    while i < len(lines):
        line = lines[i]
        if DIRECTIVE_START.match(line):
            start = i + 1
            pending_line = pending_line or start
            try:
                comment, i = _read_directive(lines, i)
            except DirectiveError as exc:
                pending_error, i = f"line {start}: {exc}", start
                continue
            try:
                pending.append(parse_directive(comment))
            except DirectiveError as exc:
                pending_error = f"line {start}: {exc}"
            continue
        fence = FENCE.match(line)
        if fence is None:
            if line.strip() and (pending or pending_error):
                blocks.append(_Block(pending, [], pending_error, pending_line))
                pending, pending_error, pending_line = [], None, 0
            i += 1
            continue
        marker, language = fence.group(1), fence.group(2).lower()
        fence_line = i + 1
        body: list[tuple[int, str]] = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(marker[:3]):
            body.append((i + 1, lines[i]))
            i += 1
        i += 1
        commands = _block_commands(body, language) if language in SHELL_LANGUAGES else []
        if commands or pending or pending_error:
            blocks.append(_Block(pending, commands, pending_error, fence_line))
        pending, pending_error, pending_line = [], None, 0
    if pending or pending_error:
        blocks.append(_Block(pending, [], pending_error, pending_line))
    return blocks


def extract(path: str, text: str) -> list[DocExample]:
    """The examples of one Markdown document (path as it appears in test ids)."""
    examples: list[DocExample] = []
    for block in _blocks(text):
        if not block.commands:
            examples.append(
                DocExample(
                    path,
                    block.start,
                    "",
                    error=block.directive_error
                    or "doc-test comment not followed by a code block of `archiver` or "
                    "`scrapy crawl` commands",
                )
            )
            continue
        error = block.directive_error
        if error is None and block.directives and len(block.directives) != len(block.commands):
            error = (
                f"{len(block.directives)} doc-test comment(s) before a block of "
                f"{len(block.commands)} command(s): give one per command, in order "
                "(`<!-- doc-test: as-written -->` for one that runs as shown)"
            )
        for n, (line, command) in enumerate(block.commands):
            example = DocExample(path, line, command, error=error)
            if block.directives and error is None:
                example.directive = block.directives[n]
            examples.append(example)
    return examples


def documents(root: Path = ROOT) -> list[Path]:
    """README.md and docs/*.md, the documents whose examples are tested."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def collect(root: Path = ROOT) -> list[DocExample]:
    """Every example of every tested document, in document order."""
    examples: list[DocExample] = []
    for doc in documents(root):
        examples += extract(doc.relative_to(root).as_posix(), doc.read_text(encoding="utf-8"))
    return examples


def remote_hosts(command: str) -> list[str]:
    """Hosts named in the command's URLs that are not this machine (a variant must replace them)."""
    hosts = [m.group(1).lower() for m in URL_HOST.finditer(command)]
    return [h for h in hosts if h not in LOCAL_HOSTS and not h.startswith("$")]
