"""hepipe settings: a TOML file, or a JSON file with hepipe.js's own keys; flags override.

TOML::

    [esl]
    host = "127.0.0.1"      # FreeSWITCH's Event Socket
    port = 8021
    password = "ClueCon"
    # user = "hepipe@default"   # userauth instead of auth

    [hep]
    host = "127.0.0.1"      # Homer / heplify-server / any HEP collector
    port = 9060
    transport = "udp"       # or "tcp"
    password = ""           # HEP auth key (chunk 14)
    capture_id = 2222       # HEP capture agent id (chunk 12)
    node_name = ""          # HEP capture agent name (chunk 19), optional

    [report]
    call_events = true
    rtcp_events = true
    qos_events = true

JSON with hepipe.js's keys (its config.js object written as JSON)::

    {"hep_config": {"HEP_SERVER": "10.0.0.1", "HEP_PORT": 9060},
     "esl_config": {"ESL_SERVER": "127.0.0.1", "ESL_PORT": 8021, "ESL_PASS": "ClueCon",
                    "HEP_PASS": "multipass", "HEP_ID": 2222,
                    "report_call_events": true, "report_rtcp_events": true,
                    "report_qos_events": true}}
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from rtcscope.errors import ConfigError, InvalidArgument


def _is_decimal(text: str) -> bool:
    """ASCII digits only (str.isdigit also accepts '¹' and other digits int() refuses)."""
    return text.isascii() and text.isdigit()


@dataclass(frozen=True, slots=True)
class HepipeConfig:
    esl_host: str = "127.0.0.1"
    esl_port: int = 8021
    esl_password: str = "ClueCon"
    esl_user: str | None = None
    hep_host: str = "127.0.0.1"
    hep_port: int = 9060
    hep_transport: str = "udp"
    hep_password: str | None = None
    capture_id: int = 2222
    node_name: str | None = None
    call_events: bool = True
    rtcp_events: bool = True
    qos_events: bool = True
    cache_size: int = 65536

    def validated(self) -> HepipeConfig:
        for name in ("esl_port", "hep_port"):
            port = getattr(self, name)
            if not 0 < port < 65536:
                raise InvalidArgument(name, f"hepipe: {name} {port} is not a port number")
        if self.hep_transport not in ("udp", "tcp"):
            raise InvalidArgument(
                "hep_transport",
                f"hepipe: HEP transport must be udp or tcp, not {self.hep_transport!r}",
            )
        if not 0 <= self.capture_id <= 0xFFFFFFFF:
            raise InvalidArgument(
                "capture_id", f"hepipe: capture id {self.capture_id} does not fit 32 bits"
            )
        if self.cache_size < 1:
            raise InvalidArgument("cache_size", "hepipe: cache size must be at least 1")
        return self

    def with_overrides(self, **overrides: Any) -> HepipeConfig:
        """Flags override the file; a None flag means 'not given'."""
        given = {k: v for k, v in overrides.items() if v is not None}
        known = {f.name for f in fields(self)}
        unknown = set(given) - known
        if unknown:
            raise InvalidArgument("overrides", f"hepipe: unknown settings {sorted(unknown)}")
        return replace(self, **given)


_TOML_KEYS: dict[str, dict[str, tuple[str, type]]] = {
    "esl": {
        "host": ("esl_host", str),
        "port": ("esl_port", int),
        "password": ("esl_password", str),
        "user": ("esl_user", str),
    },
    "hep": {
        "host": ("hep_host", str),
        "port": ("hep_port", int),
        "transport": ("hep_transport", str),
        "password": ("hep_password", str),
        "capture_id": ("capture_id", int),
        "node_name": ("node_name", str),
    },
    "report": {
        "call_events": ("call_events", bool),
        "rtcp_events": ("rtcp_events", bool),
        "qos_events": ("qos_events", bool),
        "cache_size": ("cache_size", int),
    },
}

_HEPIPE_JS_KEYS: dict[str, dict[str, tuple[str, type]]] = {
    "hep_config": {
        "HEP_SERVER": ("hep_host", str),
        "HEP_PORT": ("hep_port", int),
        # Some hepipe.js configs carry these under hep_config too.
        "HEP_PASS": ("hep_password", str),
        "HEP_ID": ("capture_id", int),
    },
    "esl_config": {
        "ESL_SERVER": ("esl_host", str),
        "ESL_PORT": ("esl_port", int),
        "ESL_PASS": ("esl_password", str),
        "HEP_PASS": ("hep_password", str),
        "HEP_ID": ("capture_id", int),
        "report_call_events": ("call_events", bool),
        "report_rtcp_events": ("rtcp_events", bool),
        "report_qos_events": ("qos_events", bool),
    },
}
# hepipe.js keys that mean nothing here (logged-only or unused), accepted silently.
_HEPIPE_JS_IGNORED = {"debug", "report_custom_events", "logs", "logs_config"}


def _coerce(path: str, value: object, kind: type) -> object:
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"hepipe config: {path} must be true or false, not {value!r}")
    if kind is int:
        if isinstance(value, bool):
            raise ConfigError(f"hepipe config: {path} must be a number, not {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, str) and _is_decimal(value.strip()):
            return int(value.strip())  # hepipe.js configs often quote numbers
        raise ConfigError(f"hepipe config: {path} must be a number, not {value!r}")
    if isinstance(value, str | int) and not isinstance(value, bool):
        return str(value)
    raise ConfigError(f"hepipe config: {path} must be a string, not {value!r}")


def _apply(
    data: dict[str, Any], table: dict[str, dict[str, tuple[str, type]]], ignored: set[str]
) -> HepipeConfig:
    values: dict[str, object] = {}
    for section, content in data.items():
        if section in ignored:
            continue
        keys = table.get(section)
        if keys is None:
            raise ConfigError(
                f"hepipe config: unknown section {section!r} (expected {', '.join(table)})"
            )
        if not isinstance(content, dict):
            raise ConfigError(f"hepipe config: {section} must be a table/object")
        for key, value in content.items():
            if key in ignored:
                continue
            target = keys.get(key)
            if target is None:
                raise ConfigError(
                    f"hepipe config: unknown key {section}.{key} (known: {', '.join(keys)})"
                )
            values[target[0]] = _coerce(f"{section}.{key}", value, target[1])
    return HepipeConfig().with_overrides(**values)


def _validated_file(config: HepipeConfig) -> HepipeConfig:
    """A value out of range in a settings file is a fault of the file (exit 3)."""
    try:
        return config.validated()
    except InvalidArgument as exc:
        raise ConfigError(f"hepipe config: {exc}") from None


def parse_config_text(text: str, kind: str) -> HepipeConfig:
    """``kind`` is ``toml`` or ``json`` (hepipe.js's keys)."""
    if kind == "toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"hepipe config is not valid TOML: {exc}") from None
        return _validated_file(_apply(data, _TOML_KEYS, set()))
    if kind == "json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ConfigError(
                f"hepipe config is not valid JSON: {exc} (a hepipe.js config.js must be "
                "turned into JSON: keep the object, quote the keys, drop module.exports)"
            ) from None
        if not isinstance(data, dict):
            raise ConfigError("hepipe JSON config must be an object with hep_config/esl_config")
        return _validated_file(_apply(data, _HEPIPE_JS_KEYS, _HEPIPE_JS_IGNORED))
    raise ConfigError(f"hepipe config kind must be toml or json, not {kind!r}")


def load_config(path: Path) -> HepipeConfig:
    """Read a TOML (``.toml``) or hepipe.js-style JSON (``.json``) settings file."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"hepipe: {path} is not UTF-8 text: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"hepipe: cannot read {path}: {exc.strerror or exc}") from None
    suffix = path.suffix.lower()
    if suffix == ".js":
        raise ConfigError(
            f"{path} is JavaScript: write hepipe.js's config object as JSON (same keys) "
            "and pass the .json file"
        )
    kind = "json" if suffix == ".json" or text.lstrip().startswith("{") else "toml"
    return parse_config_text(text, kind)
