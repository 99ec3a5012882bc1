"""hepipe settings: TOML, hepipe.js's JSON keys, flag overrides, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rtcscope.errors import ConfigError
from rtcscope.hepipe.config import HepipeConfig, load_config, parse_config_text

# hepipe.js's config.js (sipcapture/hepipe.js README), its object written as JSON.
HEPIPE_JS = {
    "hep_config": {"HEP_SERVER": "10.0.0.176", "HEP_PORT": 9060},
    "esl_config": {
        "debug": True,
        "ESL_SERVER": "127.0.0.1",
        "ESL_PORT": 8021,
        "ESL_PASS": "ClueCon",
        "HEP_PASS": "multipass",
        "HEP_ID": 2222,
        "report_call_events": True,
        "report_rtcp_events": True,
        "report_qos_events": False,
    },
}


def test_hepipe_js_keys_carry_over(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(HEPIPE_JS))
    config = load_config(path)
    assert (config.hep_host, config.hep_port) == ("10.0.0.176", 9060)
    assert (config.esl_host, config.esl_port, config.esl_password) == (
        "127.0.0.1",
        8021,
        "ClueCon",
    )
    assert (config.hep_password, config.capture_id) == ("multipass", 2222)
    assert (config.call_events, config.rtcp_events, config.qos_events) == (True, True, False)


def test_toml_and_flag_overrides(tmp_path: Path) -> None:
    path = tmp_path / "hepipe.toml"
    path.write_text(
        '[esl]\nhost = "192.0.2.5"\npassword = "s3cret"\n'
        '[hep]\nhost = "192.0.2.9"\nport = 9061\ntransport = "tcp"\ncapture_id = 7\n'
        "[report]\nqos_events = false\n"
    )
    config = load_config(path)
    assert (config.esl_host, config.esl_port, config.esl_password) == ("192.0.2.5", 8021, "s3cret")
    assert (config.hep_host, config.hep_port, config.hep_transport) == ("192.0.2.9", 9061, "tcp")
    assert config.capture_id == 7 and not config.qos_events
    overridden = config.with_overrides(capture_id=9, esl_host=None, qos_events=True).validated()
    assert overridden.capture_id == 9 and overridden.esl_host == "192.0.2.5"
    assert overridden.qos_events


@pytest.mark.parametrize(
    ("text", "kind", "fragment"),
    [
        ("[esl]\nport = 'x'\n", "toml", "esl.port must be a number"),
        ("[esl]\nhots = 'x'\n", "toml", "unknown key esl.hots"),
        ("[hep]\ntransport = 'sctp'\n", "toml", "udp or tcp"),
        ("[hep]\nport = 70000\n", "toml", "not a port number"),
        ("[hep\n", "toml", "not valid TOML"),
        ("module.exports = config;", "json", "not valid JSON"),
        ('{"esl_config": {"report_qos_events": "yes"}}', "json", "true or false"),
        ('{"hep": {}}', "json", "unknown section"),
    ],
)
def test_bad_settings_are_config_errors(text: str, kind: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        parse_config_text(text, kind)


def test_javascript_file_is_refused_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "config.js"
    path.write_text("var config = {};")
    with pytest.raises(ConfigError, match="as JSON"):
        load_config(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")


def test_quoted_numbers_from_hepipe_js_are_accepted() -> None:
    config = parse_config_text('{"esl_config": {"ESL_PORT": "8022", "HEP_ID": "12"}}', "json")
    assert (config.esl_port, config.capture_id) == (8022, 12)
    assert HepipeConfig().validated().hep_transport == "udp"
