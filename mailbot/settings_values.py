"""How one setting's value is read and checked: from the TOML file, the environment or a
secret file, then coerced to its kind. Kept apart from the registry so that each reads
alone; every problem raises ``ConfigError`` naming the setting."""

from __future__ import annotations

from collections.abc import Mapping
from email.headerregistry import Address
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailbot.errors import ConfigError

if TYPE_CHECKING:
    from mailbot.settings import Setting


def toml_lookup(data: Mapping[str, Any], dotted: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return MISSING
        node = node[part]
    return node


MISSING = object()


def _read_secret_file(setting: Setting, path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(setting.toml + "_file", f"cannot read the file: {exc.strerror}") from exc


def raw_value(setting: Setting, toml: Mapping[str, Any], env: Mapping[str, str]) -> Any:
    value: Any = setting.default
    from_toml = toml_lookup(toml, setting.toml)
    if from_toml is not MISSING:
        value = from_toml
    if setting.secret:
        file_key = toml_lookup(toml, setting.toml + "_file")
        env_file = env.get(setting.env + "_FILE")
        env_val = env.get(setting.env)
        if env_val is not None and env_file is not None:
            raise ConfigError(setting.env, f"set either {setting.env} or {setting.env}_FILE, not both")
        if from_toml is not MISSING and file_key is not MISSING:
            raise ConfigError(setting.toml, f"set either {setting.toml} or {setting.toml}_file")
        if file_key is not MISSING:
            value = _read_secret_file(setting, str(file_key))
        if env_file is not None:
            value = _read_secret_file(setting, env_file)
        if env_val is not None:
            value = env_val
        return value
    if setting.env in env:
        value = env[setting.env]
    return value


def _as_list(setting: Setting, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        items = [v.strip() for v in value.split(",")]
    elif isinstance(value, list | tuple):
        items = [str(v).strip() for v in value]
    else:
        raise ConfigError(setting.toml, "expected a list or a comma-separated string")
    return tuple(v for v in items if v)


def _check_address(setting: Setting, value: str) -> str:
    try:
        addr = Address(addr_spec=value.strip())
    except (ValueError, IndexError) as exc:
        raise ConfigError(setting.env, f"{value!r} is not an e-mail address") from exc
    if not addr.domain:
        raise ConfigError(setting.env, f"{value!r} is not an e-mail address")
    return addr.addr_spec.lower()


def _as_bool(setting: Setting, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(setting.env, f"expected on or off (true/false), got {value!r}")


def coerce(setting: Setting, value: Any) -> Any:
    kind = setting.kind
    if value is None:
        return () if kind in ("list", "addresses") else None
    if kind == "int":
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ConfigError(setting.env, f"expected a whole number, got {value!r}")
        try:
            number = int(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(setting.env, f"expected a whole number, got {value!r}") from exc
        if number < 0:
            raise ConfigError(setting.env, "must not be negative")
        return number
    if kind == "list":
        return _as_list(setting, value)
    if kind == "bool":
        return _as_bool(setting, value)
    if kind == "addresses":
        return tuple(_check_address(setting, v) for v in _as_list(setting, value))
    if kind == "address":
        return _check_address(setting, str(value))
    if not isinstance(value, str):
        raise ConfigError(setting.env, f"expected text, got {type(value).__name__}")
    return value


def flatten(data: Mapping[str, Any], prefix: str = "") -> list[str]:
    """A TOML document's keys, dotted (``store.key_file``)."""
    keys: list[str] = []
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            keys.extend(flatten(value, dotted + "."))
        else:
            keys.append(dotted)
    return keys
