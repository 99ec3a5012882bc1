"""HEP interop with real peers on loopback 127.0.20.0/24, both directions.

- rtcscope hep send -> sngrep -L (-O pcap read back by tshark), with and without
  ``eep.listen.pass``; rtcscope hep send -> Kamailio sipcapture (its event route logs the
  chunks it read, chunk 14 included).
- sngrep -I FILE -H (HEPv3, and v2 with ``eep.send.version 2``, and ``eep.send.pass``) ->
  rtcscope hep listen; Kamailio siptrace (HEPv3 and v2, ``auth_key``, over UDP and over TCP)
  -> rtcscope hep listen.

Counts and Call-IDs must be equal on both sides; the reference for a capture's SIP is tshark.
"""

from __future__ import annotations

import collections
import contextlib
import re
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rtcscope.hep.codec import HepPacket, ProtocolType
from rtcscope.hep.store import count, search
from tests.conftest import DATA
from tests.peers import background, rtcscope_background, rtcscope_cli, run, tshark_fields

pytestmark = pytest.mark.peer

CAPTURE = DATA / "aaa.pcap"  # 81 SIP messages over UDP, several dialogs (tshark agrees)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind((host, 0))
        port: int = udp.getsockname()[1]
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
        try:
            tcp.bind((host, port))
        except OSError:
            return _free_port(host)
    return port


def _udp_port_taken(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def _wait(predicate: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _tshark_call_ids(path: Path) -> list[str]:
    return [row[0] for row in tshark_fields(path, ["sip.Call-ID"], display_filter="sip")]


@contextlib.contextmanager
def _collector(tmp_path: Path, host: str, *extra: str) -> Iterator[tuple[int, Path, Path]]:
    port = _free_port(host)
    store = tmp_path / f"store-{port}"
    log = tmp_path / f"listen-{port}.log"
    args = ["hep", "listen", "--bind", f"{host}:{port}", "--store", store, "--format", "json"]
    with rtcscope_background([*args, *extra], log):
        assert _wait(lambda: "listening" in log.read_text(), 20), log.read_text()
        yield port, store, log


def _stored_call_ids(store: Path) -> list[str]:
    return [m.call_id or "" for m in list(search(store))]


def _stable_count(store: Path, expected: int) -> int:
    _wait(lambda: (store / "hep.sqlite").exists() and count(store) >= expected, 10)
    time.sleep(0.3)  # anything beyond the expected count would show up now
    return count(store)


# --- rtcscope -> sngrep -------------------------------------------------------------------


@contextlib.contextmanager
def _sngrep_listener(tmp_path: Path, host: str) -> Iterator[tuple[int, Path]]:
    port = _free_port(host)
    out = tmp_path / f"sngrep-{port}.pcap"
    with background(
        "sngrep", ["-N", "-q", "-L", f"udp:{host}:{port}", "-O", out], tmp_path / "sngrep.log", 60
    ) as proc:
        assert _wait(lambda: _udp_port_taken(host, port), 10)
        yield port, out
        time.sleep(0.5)
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize("version", [3, 2])
def test_hep_send_reaches_sngrep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: int
) -> None:
    """sngrep decodes what we send, v2 included (host-order times: its own decoder's view)."""
    rc = tmp_path / "sngreprc"
    rc.write_text(f"set eep.listen.version {version}\n")
    monkeypatch.setenv("SNGREPRC", str(rc))
    expected = _tshark_call_ids(CAPTURE)
    assert len(expected) == 81
    host = "127.0.20.20"
    with _sngrep_listener(tmp_path, host) as (port, out):
        result = rtcscope_cli(
            ["hep", "send", CAPTURE, "--to", f"udp://{host}:{port}", "--format", "json",
             "--hep-version", str(version)]
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert '"sent": 81' in result.stdout
    assert collections.Counter(_tshark_call_ids(out)) == collections.Counter(expected)
    # sngrep wrote each message with the inner addresses and capture times we sent
    ours = tshark_fields(out, ["frame.time_epoch", "ip.src", "udp.srcport"], "sip")
    theirs = tshark_fields(CAPTURE, ["frame.time_epoch", "ip.src", "udp.srcport"], "sip")
    assert ours == theirs


def _sip(call_id: str) -> bytes:
    return (
        "OPTIONS sip:probe@example.com SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 10.9.9.9:5060;branch=z9hG4bK-probe\r\n"
        f"From: <sip:p@example.com>;tag=1\r\nTo: <sip:probe@example.com>\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def _send_udp(host: str, port: int, packets: list[HepPacket]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        for packet in packets:
            udp.sendto(packet.encode(), (host, port))
            time.sleep(0.002)


def _probe(call_id: str, password: str | None) -> HepPacket:
    return HepPacket(
        ip_family=2,
        ip_proto=17,
        src="10.9.9.9",
        dst="10.9.9.8",
        sport=5060,
        dport=5060,
        ts_sec=int(time.time()),
        ts_usec=0,
        proto_type=ProtocolType.SIP,
        capture_id=7,
        auth_key=password,
        payload=_sip(call_id),
    )


def test_sngrep_with_a_password_takes_only_the_right_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rc = tmp_path / "sngreprc"
    rc.write_text("set eep.listen.pass s3cret\n")
    monkeypatch.setenv("SNGREPRC", str(rc))  # sngrep reads its settings from $SNGREPRC
    host = "127.0.20.20"
    with _sngrep_listener(tmp_path, host) as (port, out):
        packets = [_probe(f"none-{i}", None) for i in range(4)]
        packets += [_probe(f"wrong-{i}", "guess") for i in range(4)]
        packets += [_probe(f"right-{i}", "s3cret") for i in range(4)]
        _send_udp(host, port, packets)
    assert sorted(_tshark_call_ids(out)) == [f"right-{i}" for i in range(4)]


# --- sngrep -> rtcscope -------------------------------------------------------------------


@pytest.mark.parametrize("version", [3, 2])
def test_sngrep_sends_to_our_collector(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: int
) -> None:
    rc = tmp_path / "sngreprc"
    rc.write_text(f"set eep.send.version {version}\nset eep.send.id 2002\n")
    monkeypatch.setenv("SNGREPRC", str(rc))
    expected = _tshark_call_ids(CAPTURE)
    host = "127.0.20.21"
    with _collector(tmp_path, host) as (port, store, _log):
        run("sngrep", ["-N", "-q", "-I", CAPTURE, "-H", f"udp:{host}:{port}"], timeout=60)
        assert _stable_count(store, len(expected)) == len(expected)
    messages = list(search(store))
    assert collections.Counter(m.call_id for m in messages) == collections.Counter(expected)
    assert {m.hep_version for m in messages} == {version}
    # sngrep 1.6 writes its capture id in 16 bits: in v2 that is the format (2002 arrives as
    # 2002); in v3 it puts the 16-bit value in the top half of the 32-bit chunk 12, so the
    # packet bytes say 2002 << 16. We store what the packet says.
    assert {m.capture_id for m in messages} == {2002 if version == 2 else 2002 << 16}
    theirs = [float(t) for (t,) in tshark_fields(CAPTURE, ["frame.time_epoch"], "sip")]
    assert sorted(m.time_ns for m in messages) == sorted(round(t * 1e6) * 1000 for t in theirs)
    # our pcap of the received SIP, read by tshark, shows what the original capture shows
    # (the same frames sngrep -L -O writes, see test_hep_send_reaches_sngrep)
    fields = ["frame.time_epoch", "ip.src", "ip.dst", "udp.srcport", "udp.dstport", "sip.Call-ID"]
    assert tshark_fields(store / "sip.pcap", fields, "sip") == tshark_fields(CAPTURE, fields, "sip")


def test_our_collector_refuses_sngrep_with_a_wrong_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = "127.0.20.21"
    rc = tmp_path / "sngreprc"
    with _collector(tmp_path, host, "--no-pcap", "--password", "right") as (port, store, log):
        for password in ("wrong", "right"):
            rc.write_text(f"set eep.send.pass {password}\n")
            monkeypatch.setenv("SNGREPRC", str(rc))
            run("sngrep", ["-N", "-q", "-I", CAPTURE, "-H", f"udp:{host}:{port}"], timeout=60)
        assert _stable_count(store, 81) == 81
    text = log.read_text()
    assert '"rejected_password": 81' in text
    assert '"stored": 81' in text
    assert len(re.findall(r"refused: a wrong password", text)) == 1  # logged once per source


# --- Kamailio -----------------------------------------------------------------------------

_KAMAILIO_HEAD = """#!KAMAILIO
debug=2
log_stderror=yes
children=1
auto_aliases=no
{tcp}
mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"
listen=udp:{host}:{port}
loadmodule "pv.so"
loadmodule "xlog.so"
loadmodule "sl.so"
"""

# what Kamailio read from each HEP packet, chunk 14 (auth key) included
_HEPIN = (
    "HEPIN auth=[$hep(0x00e)] capture_id=[$hep(0x00c)] version=[$hep(version)] "
    "type=[$hep(0x00b)] $(hep(0x00f){line.sw,Call-ID})"
)

_SIPCAPTURE = """loadmodule "db_text.so"
loadmodule "sipcapture.so"
modparam("sipcapture", "db_url", "text://{dbdir}")
modparam("sipcapture", "hep_capture_on", 1)
modparam("sipcapture", "nonsip_hook", 1)
event_route[sipcapture:request] {{
    xlog("L_ERR", "{hepin}\\n");
    drop;
}}
request_route {{
    exit;
}}
"""

_SIPTRACE = """loadmodule "siptrace.so"
modparam("siptrace", "duplicate_uri", "sip:{collector}{transport}")
modparam("siptrace", "hep_mode_on", 1)
modparam("siptrace", "hep_version", {version})
modparam("siptrace", "hep_capture_id", 77)
modparam("siptrace", "auth_key", "{password}")
modparam("siptrace", "trace_to_database", 0)
modparam("siptrace", "trace_on", 1)
request_route {{
    xlog("L_ERR", "TRACED Call-ID: $ci\\n");
    sip_trace();
    sl_send_reply("200", "OK");
    exit;
}}
"""


@contextlib.contextmanager
def _kamailio(tmp_path: Path, config: str, host: str, port: int) -> Iterator[Path]:
    cfg = tmp_path / f"kamailio-{port}.cfg"
    cfg.write_text(config)
    log = tmp_path / f"kamailio-{port}.log"
    run("kamailio", ["-c", "-f", cfg], timeout=30)
    args = ["-f", cfg, "-DD", "-E", "-P", tmp_path / f"k-{port}.pid", "-Y", tmp_path]
    with background("kamailio", args, log, 60):
        assert _wait(lambda: _udp_port_taken(host, port), 15), log.read_text()
        time.sleep(0.3)
        yield log


def test_kamailio_sipcapture_receives_hep_send(tmp_path: Path) -> None:
    host = "127.0.20.22"
    port = _free_port(host)
    dbdir = tmp_path / "dbtext"
    dbdir.mkdir()
    config = _KAMAILIO_HEAD.format(
        host=host, port=port, tcp="disable_tcp=yes"
    ) + _SIPCAPTURE.format(dbdir=dbdir, hepin=_HEPIN)
    with _kamailio(tmp_path, config, host, port) as log:
        result = rtcscope_cli(
            [
                "hep", "send", CAPTURE, "--to", f"udp://{host}:{port}",
                "--password", "kam-s3cret", "--capture-id", "70000",
            ]
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        expected = _tshark_call_ids(CAPTURE)
        assert _wait(lambda: log.read_text("latin-1").count("HEPIN") >= len(expected), 15)
        time.sleep(0.3)
    lines = [line for line in log.read_text("latin-1").splitlines() if "HEPIN" in line]
    assert len(lines) == len(expected)
    got = [re.search(r"Call-ID: (\S+)", line).group(1) for line in lines]  # type: ignore[union-attr]
    assert collections.Counter(got) == collections.Counter(expected)
    # chunk 14 arrives with the configured value; the capture id keeps all 32 bits
    assert all("auth=[kam-s3cret] capture_id=[70000] version=[3] type=[1]" in x for x in lines)


# Without nonsip_hook, sipcapture unwraps HEPv1/v2/v3 and runs the routes on the inner SIP.
_SIPCAPTURE_ROUTES = """loadmodule "db_text.so"
loadmodule "sipcapture.so"
modparam("sipcapture", "db_url", "text://{dbdir}")
modparam("sipcapture", "hep_capture_on", 1)
request_route {{
    xlog("L_ERR", "SIPIN Call-ID: $ci src=$si:$sp\\n");
    exit;
}}
onreply_route {{
    xlog("L_ERR", "SIPIN Call-ID: $ci src=$si:$sp\\n");
    drop;
}}
"""


def test_kamailio_sipcapture_unwraps_hepv2_from_hep_send(tmp_path: Path) -> None:
    host = "127.0.20.22"
    port = _free_port(host)
    dbdir = tmp_path / "dbtext"
    dbdir.mkdir()
    config = _KAMAILIO_HEAD.format(
        host=host, port=port, tcp="disable_tcp=yes"
    ) + _SIPCAPTURE_ROUTES.format(dbdir=dbdir)
    expected = tshark_fields(CAPTURE, ["sip.Call-ID", "ip.src", "udp.srcport"], "sip")
    with _kamailio(tmp_path, config, host, port) as log:
        args = ["--to", f"udp://{host}:{port}", "--hep-version", "2"]
        result = rtcscope_cli(["hep", "send", CAPTURE, *args])
        assert result.returncode == 0, result.stderr
        assert _wait(lambda: log.read_text("latin-1").count("SIPIN") >= len(expected), 15)
        time.sleep(0.3)
    got = re.findall(r"SIPIN Call-ID: (\S+) src=([\d.]+):(\d+)", log.read_text("latin-1"))
    # Kamailio's $si/$sp are the addresses inside the HEP header: the capture's
    assert collections.Counter(got) == collections.Counter(tuple(row) for row in expected)


def _options(host: str, port: int, call_ids: list[str]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as ua:
        ua.bind(("127.0.20.25", 0))
        ua.settimeout(5)
        local = ua.getsockname()
        for i, call_id in enumerate(call_ids):
            ua.sendto(
                (
                    f"OPTIONS sip:k@{host}:{port} SIP/2.0\r\n"
                    f"Via: SIP/2.0/UDP {local[0]}:{local[1]};branch=z9hG4bK-{i}\r\n"
                    f"From: <sip:ua@{local[0]}>;tag={i}\r\nTo: <sip:k@{host}>\r\n"
                    f"Call-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
                    "Content-Length: 0\r\n\r\n"
                ).encode(),
                (host, port),
            )
            assert ua.recv(4096).startswith(b"SIP/2.0 200")


@pytest.mark.parametrize(
    ("version", "transport", "password", "collector_password", "stored"),
    [
        (3, "udp", "kampass", "kampass", True),
        (3, "udp", "other", "kampass", False),
        (2, "udp", "", None, True),
        (3, "tcp", "kampass", "kampass", True),  # HEP3 frames back to back on one connection
    ],
)
def test_kamailio_siptrace_sends_to_our_collector(
    tmp_path: Path,
    version: int,
    transport: str,
    password: str,
    collector_password: str | None,
    stored: bool,
) -> None:
    host = "127.0.20.23"
    collector_host = "127.0.20.24"
    call_ids = [f"trace-{version}-{i}@rtcscope" for i in range(10)]
    extra = ["--no-pcap"] + (["--password", collector_password] if collector_password else [])
    if transport == "tcp":
        extra.append("--tcp")
    with _collector(tmp_path, collector_host, *extra) as (cport, store, collector_log):
        port = _free_port(host)
        tcp = f"listen=tcp:{host}:{port}" if transport == "tcp" else "disable_tcp=yes"
        config = _KAMAILIO_HEAD.format(host=host, port=port, tcp=tcp) + _SIPTRACE.format(
            collector=f"{collector_host}:{cport}",
            transport=";transport=tcp" if transport == "tcp" else "",
            version=version,
            password=password,
        )
        with _kamailio(tmp_path, config, host, port) as log:
            _options(host, port, call_ids)
            assert _wait(lambda: log.read_text("latin-1").count("TRACED") == 10, 10)
            traced = re.findall(r"TRACED Call-ID: (\S+)", log.read_text("latin-1"))
            if stored:
                assert _stable_count(store, len(traced)) == len(traced)
            else:
                time.sleep(1.0)
    text = collector_log.read_text()
    assert traced == call_ids
    assert f'"tcp_connections": {1 if transport == "tcp" else 0}' in text
    if stored:
        messages = list(search(store))
        assert [m.call_id for m in messages] == traced
        assert {(m.hep_version, m.capture_id, m.method) for m in messages} == {
            (version, 77, "OPTIONS")
        }
    else:
        assert f'"rejected_password": {len(traced)}' in text
        assert '"stored": 0' in text
