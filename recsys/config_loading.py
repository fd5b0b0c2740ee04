"""Settings from outside the program: a template-style `config.py` (`load_config`) and the command
line's `--set name=value` overrides (`parse_override`, `apply_overrides`), each checked into a
`recsys.config.Config`.

Example:
    >>> apply_overrides(load_config(None), ["top_n=20"]).top_n
    20
"""

from __future__ import annotations

import json
import runpy
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

from recsys.config import Config, type_text
from recsys.errors import ConfigError, closest_names

__all__ = ["apply_overrides", "load_config", "parse_override"]


def load_config(path: str | Path | None = None) -> Config:
    """Read a template-style `config.py` (module-level assignments) into a Config.

    Private names (leading underscore), modules, functions and classes are ignored; any other
    name must be a known setting.

    Args:
        path: A `config.py` (or a `.json` written by `Config.save`); None gives the defaults.

    Returns:
        The checked `Config`.

    Raises:
        ConfigError: the file is missing or unreadable, names an unknown setting, or a value is
            not what its setting takes (the message names the setting).

    Example:
        >>> from pathlib import Path
        >>> _ = Path("my_config.py").write_text("embedding_dim = 32")
        >>> load_config("my_config.py").embedding_dim
        32
    """
    if path is None:
        return Config()
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist.")
    if path.suffix == ".json":
        return Config.load_json(path)
    try:
        namespace = runpy.run_path(str(path))
    except Exception as exc:  # a syntax error in the user's file: say where
        raise ConfigError(f"could not read config file {path}: {type(exc).__name__}: {exc}") from None
    values = {
        name: value
        for name, value in namespace.items()
        if not name.startswith("_") and not callable(value) and not isinstance(value, types.ModuleType)
    }
    return Config.from_dict(values, source=str(path))


def _accepts_text(hint: Any) -> bool:
    """Whether a setting of this type takes plain text from the command line (str, choices)."""
    origin = typing.get_origin(hint)
    if hint is str or origin is Literal:
        return True
    if origin is Annotated or origin in (typing.Union, types.UnionType):
        return any(_accepts_text(a) for a in typing.get_args(hint) if a is not type(None))
    return False


def parse_override(text: str) -> tuple[str, Any]:
    """Parse one `--set name=value` into (name, value) by the setting's type.

    Text settings take the text as it is; `none`/`null` is None; booleans take true/false,
    yes/no, 1/0; numbers, lists and dicts are read as JSON (`metrics_k=[5,10]`). The Config
    then checks the value like any other.
    """
    if "=" not in text:
        raise ConfigError(f"--set expects name=value, got {text!r}.")
    name, raw = (part.strip() for part in text.split("=", 1))
    hints = typing.get_type_hints(Config, include_extras=True)
    if name not in hints:
        listing = "`python -m recsys config` lists every setting"
        raise ConfigError(f"--set: unknown setting {name!r}; {closest_names([name], hints, listing)}")
    hint = hints[name]
    if raw.lower() in ("none", "null"):
        return name, None
    if _accepts_text(hint):
        return name, raw
    if hint is bool:
        if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ConfigError(f"--set {name}: {raw!r} is not a boolean; expected true or false.")
        return name, raw.lower() in ("true", "1", "yes")
    try:
        return name, json.loads(raw)
    except ValueError:
        raise ConfigError(f"--set {name}: cannot read {raw!r}; expected {type_text(name)}.") from None


def apply_overrides(config: Config, overrides: list[str] | None) -> Config:
    """The config with `--set name=value` overrides applied (values parsed as Python literals).

    Args:
        config: The settings to start from.
        overrides: "name=value" texts, or None.

    Returns:
        A new, checked `Config` (the same one when there is nothing to apply).

    Raises:
        ConfigError: an override is malformed, names an unknown setting, or gives a wrong value.

    Example:
        >>> apply_overrides(Config(), ["embedding_dim=64"]).embedding_dim
        64
    """
    changes = dict(parse_override(text) for text in overrides or [])
    return config.replace(**changes) if changes else config
