"""Config files: TOML with `extends`, dotted `--set` overrides, and the resolved file of a run.

A file has the tables `[model]`, `[data]`, `[train]` and `[decode]` and may start with
`extends = "standard.toml"` (a path relative to the file, or a name in `paths.configs_dir`) to
inherit another file; tables merge key by key.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from im2markup.paths import configs_dir
from im2markup.training.config import ConfigError, ExperimentConfig


def resolve_config_path(name: str | Path) -> Path:
    """A config given as a path, or as a name in the configs folder (`paths.configs_dir`)."""
    path = Path(name)
    folder = configs_dir()
    candidates = [path, folder / path, folder / f"{path}.toml"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ConfigError(f"config {str(name)!r} not found (looked in . and {folder})")


def _merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def load_raw(path: Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The merged table of a config file and the files it extends."""
    path = path.resolve()
    if path in _seen:
        chain = " -> ".join(str(p.name) for p in (*_seen, path))
        raise ConfigError(f"config files extend each other in a cycle: {chain}")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    if not isinstance(parent, str):
        raise ConfigError(f"{path}: extends must be a file name")
    parent_path = path.parent / parent
    if not parent_path.is_file():
        parent_path = resolve_config_path(parent)
    return _merge(load_raw(parent_path, (*_seen, path)), raw)


def parse_override(item: str) -> tuple[list[str], Any]:
    """`section.key=value` → (["section", "key"], value); the value is read as TOML, else text."""
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"override {item!r} must look like section.key=value")
    try:
        value = tomllib.loads(f"v = {text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = text.strip()
    return key.split("."), value


def apply_overrides(raw: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """A copy of `raw` with each dotted override set (types are checked when it is loaded)."""
    out = json.loads(json.dumps(raw))
    for item in overrides:
        parts, value = parse_override(item)
        node = out
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"override {item!r}: {part} is not a table")
            node = child
        node[parts[-1]] = value
    return out


def load_config(name: str | Path, overrides: Iterable[str] = ()) -> ExperimentConfig:
    """Load a config file (following `extends`) and apply `--set` style overrides."""
    raw = apply_overrides(load_raw(resolve_config_path(name)), overrides)
    return ExperimentConfig.from_dict(raw)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise ConfigError(f"cannot write {value!r} ({type(value).__name__}) to TOML")


def to_toml(cfg: ExperimentConfig) -> str:
    """The resolved config as TOML that `load_config` reads back to an equal config.

    TOML has no null, so fields set to None are left out (they fall back to their default).
    """
    data = cfg.to_dict()
    lines = [f"description = {_toml_value(data.pop('description'))}"]
    for section, table in data.items():
        lines.append(f"\n[{section}]")
        lines.extend(f"{k} = {_toml_value(v)}" for k, v in table.items() if v is not None)
    return "\n".join(lines) + "\n"
