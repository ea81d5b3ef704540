"""Where settings come from, Scrapy-free: the settings file, the environment, `-s` pairs.

Precedence, strongest first: the command line (`-s NAME=VALUE`), the environment
(`ARCHIVER_*` variables), the settings file (`ARCHIVER_CONFIG`, else `./archiver.toml`), the
defaults declared in archiver/settings.py.  Every `ARCHIVER_*` name must be one of those
declared; an unknown one is an error naming the closest known names.  Path settings are made
absolute when they are read: against the settings file's directory for values from the file,
against the working directory for the rest.  Loading the project settings as `scrapy crawl`
does is archiver.crawler.project.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any

SETTINGS_MODULE = "archiver.settings"
ENV_PREFIX = "ARCHIVER_"
# The settings file: named by this environment variable, else CONFIG_FILE in the working directory.
CONFIG_ENV = "ARCHIVER_CONFIG"
CONFIG_FILE = "archiver.toml"
# Settings that name files or directories: relative values are made absolute when read, so a
# child process (a crawl, pywb, weed) started elsewhere finds the same place.
PATH_SETTINGS = frozenset(
    {
        "ARCHIVER_WARC_DIR",
        "ARCHIVER_INDEX_CACHE_DIR",
        "ARCHIVER_REPLAY_VENV",
        "ARCHIVER_SITES_FILE",
        "ARCHIVER_CLEAN_RULES_DIRS",
        "ARCHIVER_PROGRESS_FILE",
        "JOBDIR",
        "LOG_FILE",
    }
)


class SettingError(ValueError):
    """A setting value that cannot be used (wrong type, unknown name)."""


def coerce(name: str, raw: str, default: Any) -> Any:
    """Convert a textual override to the type of the setting's default."""
    if isinstance(default, bool):
        low = raw.strip().lower()
        if low in {"1", "true", "yes", "on"}:
            return True
        if low in {"0", "false", "no", "off", ""}:
            return False
        raise SettingError(f"{name}: expected a boolean (true/false), got {raw!r}")
    if isinstance(default, int):
        try:
            return int(raw.replace("_", ""))
        except ValueError:
            raise SettingError(f"{name}: expected an integer, got {raw!r}") from None
    if isinstance(default, float):
        try:
            return float(raw)
        except ValueError:
            raise SettingError(f"{name}: expected a number, got {raw!r}") from None
    if isinstance(default, list):
        return [part.strip() for part in raw.split(",") if part.strip()]
    return raw


def _typed(name: str, value: Any, default: Any) -> Any:
    """A value from the settings file, checked against the type of the setting's default."""
    if isinstance(value, str) and not isinstance(default, str):
        return coerce(name, value, default)
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, list):
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    elif isinstance(default, str):
        ok = isinstance(value, str)
    else:
        ok = True
    if not ok:
        kind = type(default).__name__ if not isinstance(default, list) else "list of strings"
        raise SettingError(f"{name}: expected a {kind} like the default {default!r}, got {value!r}")
    return value


def declared_settings() -> dict[str, Any]:
    """The settings archiver/settings.py declares (upper-case names), as loaded."""
    module = import_module(SETTINGS_MODULE)
    return {name: getattr(module, name) for name in dir(module) if name.isupper()}


def closest(name: str, known: Iterable[str]) -> list[str]:
    """The known names a misspelt one most likely meant, best first (at most two)."""
    # Compared without the ARCHIVER_ prefix every name shares, which would make any two alike.
    by_rest = {n.removeprefix(ENV_PREFIX): n for n in known}
    rest = name.removeprefix(ENV_PREFIX)
    return [by_rest[m] for m in difflib.get_close_matches(rest, sorted(by_rest), n=2, cutoff=0.7)]


def unknown_setting(name: str, known: Iterable[str], where: str) -> SettingError:
    """The error for an ARCHIVER_* name that is not declared, with the closest known names."""
    guesses = closest(name, known)
    hint = f"did you mean {' or '.join(guesses)}?" if guesses else "see docs/settings.md"
    return SettingError(f"unknown setting {name} ({where}): {hint}")


def check_names(names: Iterable[str], known: Iterable[str], where: str) -> None:
    """Refuse the first ARCHIVER_* name that is not a known setting."""
    known = frozenset(known)
    for name in names:
        if name.startswith(ENV_PREFIX) and name not in known:
            raise unknown_setting(name, known, where)


def absolute_path(value: Any, base: Path) -> Any:
    """A path setting's value (a path, or a list of them) made absolute against base; "" stays."""
    if isinstance(value, list | tuple):
        return [absolute_path(v, base) for v in value]
    if isinstance(value, Path) or (isinstance(value, str) and value.strip()):
        path = Path(value).expanduser()
        return os.path.normpath(path if path.is_absolute() else base / path)
    return value


def settings_file(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Path | None:
    """The settings file in use: ARCHIVER_CONFIG, else ./archiver.toml if there is one."""
    env = os.environ if environ is None else environ
    base = Path.cwd() if cwd is None else cwd
    named = env.get(CONFIG_ENV, "").strip()
    if named:
        return Path(absolute_path(named, base))
    candidate = base / CONFIG_FILE
    return candidate if candidate.is_file() else None


def read_settings_file(path: Path, defaults: Mapping[str, Any]) -> dict[str, Any]:
    """The settings of a TOML settings file, typed like the defaults, paths made absolute.

    SettingError names the file and the setting for a missing or unreadable file, bad TOML,
    a key that is no setting name, an unknown ARCHIVER_* name or a value of the wrong type.
    """
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingError(f"{path}: no such settings file (named by {CONFIG_ENV})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingError(f"{path}: cannot read the settings file: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingError(f"{path}: not valid TOML: {exc}") from None
    known = [n for n in defaults if n.startswith(ENV_PREFIX)]
    values: dict[str, Any] = {}
    for name, value in doc.items():
        if not name.isupper():
            guesses = closest(name.upper(), known)
            hint = f"did you mean {' or '.join(guesses)}?" if guesses else "see docs/settings.md"
            raise SettingError(
                f"{path}: {name!r} is not a setting name (names are upper case): {hint}"
            )
        if name == CONFIG_ENV:
            raise SettingError(f"{path}: {CONFIG_ENV} names the settings file; it cannot be in one")
        if name.startswith(ENV_PREFIX) and name not in defaults:
            raise SettingError(f"{path}: {unknown_setting(name, known, 'in the settings file')}")
        if name in defaults:
            try:
                value = _typed(name, value, defaults[name])
            except SettingError as exc:
                raise SettingError(f"{path}: {exc}") from None
        values[name] = absolute_path(value, path.parent) if name in PATH_SETTINGS else value
    return values


@dataclass
class Sources:
    """Setting values from the settings file, then the environment (the later wins)."""

    values: dict[str, Any] = field(default_factory=dict)
    file: Path | None = None
    problems: list[SettingError] = field(default_factory=list)


def read_sources(
    defaults: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Sources:
    """The settings file's values, then the ARCHIVER_* environment variables over them.

    Problems (unknown names, bad values, a missing file) are collected, not raised, so the
    settings module can load and the command report them in one line (check_sources).
    """
    env = os.environ if environ is None else environ
    base = Path.cwd() if cwd is None else cwd
    sources = Sources()
    try:
        sources.file = settings_file(env, base)
        if sources.file is not None:
            sources.values.update(read_settings_file(sources.file, defaults))
            sources.values[CONFIG_ENV] = str(sources.file)
    except SettingError as exc:
        sources.problems.append(exc)
    known = [n for n in defaults if n.startswith(ENV_PREFIX)]
    for name in sorted(n for n in env if n.startswith(ENV_PREFIX)):
        if name == CONFIG_ENV:
            continue
        if name not in defaults:
            sources.problems.append(unknown_setting(name, known, "in the environment"))
            continue
        try:
            value = coerce(name, env[name], defaults[name])
        except SettingError as exc:
            sources.problems.append(SettingError(f"{exc} (in the environment)"))
            continue
        sources.values[name] = absolute_path(value, base) if name in PATH_SETTINGS else value
    return sources


def apply_sources(namespace: MutableMapping[str, Any]) -> Sources:
    """Override a settings namespace from the settings file and the environment.

    Called by archiver/settings.py as it loads; what cannot be applied is left at its
    default and reported by check_sources when a command or crawl starts.
    """
    sources = read_sources(dict(namespace))
    namespace.update(sources.values)
    return sources


def check_sources(
    defaults: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> None:
    """Raise the first problem of the settings file or the environment as a SettingError."""
    problems = read_sources(defaults, environ, cwd).problems
    if problems:
        raise problems[0]


def apply_environment(
    namespace: MutableMapping[str, Any], environ: Mapping[str, str] | None = None
) -> list[str]:
    """Override ARCHIVER_* names in a settings namespace from same-named environment variables."""
    env = os.environ if environ is None else environ
    applied = []
    for name in [n for n in namespace if n.startswith(ENV_PREFIX)]:
        if name in env:
            namespace[name] = coerce(name, env[name], namespace[name])
            applied.append(name)
    return applied


def user_agent(contact_url: str) -> str:
    """The User-Agent: the project, its version, and where site owners can reach the operator."""
    from archiver import __version__

    return f"news-archiver/{__version__} (+{contact_url})"


def parse_overrides(pairs: Iterable[str]) -> dict[str, str]:
    """Parse `-s NAME=VALUE` pairs, as `scrapy crawl` takes them."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise SettingError(f"invalid -s value {pair!r}: use NAME=VALUE")
        out[name.strip()] = value
    return out


def resolve_overrides(pairs: Iterable[str], cwd: Path | None = None) -> tuple[str, ...]:
    """`-s NAME=VALUE` pairs with the values of path settings made absolute."""
    base = Path.cwd() if cwd is None else cwd
    out = []
    for name, value in parse_overrides(pairs).items():
        if name in PATH_SETTINGS and value.strip():
            parts = [absolute_path(p.strip(), base) for p in value.split(",") if p.strip()]
            value = ",".join(parts)
        out.append(f"{name}={value}")
    return tuple(out)
