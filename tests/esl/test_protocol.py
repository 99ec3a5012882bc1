"""The sans-IO Event Socket parser on FreeSWITCH's real event dumps (../shared/esl, see its
SOURCES.md) and on the control messages mod_event_socket writes."""

from __future__ import annotations

import contextlib
import itertools
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcscope.errors import EslError, InvalidArgument, ParseError
from rtcscope.esl.client import reconnect_delay_s
from rtcscope.esl.protocol import (
    ACL_HINT,
    CONNECTION_CLOSED,
    NEED_DATA,
    Api,
    ApiResponse,
    Auth,
    AuthRequest,
    BgApi,
    CommandReply,
    DisconnectNotice,
    EslConnection,
    EslEvent,
    Exit,
    Filter,
    LogData,
    NixEvent,
    OtherMessage,
    RudeRejection,
    Subscribe,
    UserAuth,
)
from tests.conftest import IN_CI, SHARED
from tests.esl.fake_freeswitch import DISCONNECT_TEXT, REJECTION_TEXT, dump_body, frame

ESL_DIR = SHARED / "esl"


def dumps() -> list[Path]:
    if not ESL_DIR.is_dir():
        if IN_CI:
            pytest.fail(f"{ESL_DIR} is missing")
        return []
    return sorted(ESL_DIR.glob("*.txt"))


def plain_frame(body: bytes) -> bytes:
    return frame([("Content-Length", str(len(body))), ("Content-Type", "text/event-plain")], body)


def drain(conn: EslConnection) -> list[object]:
    out: list[object] = []
    while True:
        message = conn.next_event()
        if message is NEED_DATA or message is CONNECTION_CLOSED:
            return out
        out.append(message)


def parse_all(data: bytes, chunk: int | None = None) -> list[object]:
    conn = EslConnection()
    out: list[object] = []
    step = chunk or max(1, len(data))
    for start in range(0, len(data), step):
        conn.receive_data(data[start : start + step])
        out += drain(conn)
    conn.receive_data(b"")
    out += drain(conn)
    return out


def header_values(path: Path, name: str) -> list[str]:
    """Values of a header read straight from the dump text (the independent reference)."""
    prefix = name + ": "
    return [
        line[len(prefix) :]
        for line in path.read_text().split("\n")
        if line.lower().startswith(prefix.lower())
    ]


@pytest.mark.parametrize("path", dumps(), ids=lambda p: p.name)
def test_real_dump_parses_whole_and_one_byte_at_a_time(path: Path) -> None:
    stream = plain_frame(dump_body(path)) * 2
    whole = parse_all(stream)
    bytewise = parse_all(stream, chunk=1)
    assert len(whole) == 2
    assert whole == bytewise
    event = whole[0]
    assert isinstance(event, EslEvent)
    for name in ("Event-Name", "Unique-ID", "Event-Date-Timestamp", "variable_sip_call_id"):
        raw = header_values(path, name)
        if raw:
            assert event.get(name) == raw[0].replace("%20", " ").replace("%3A", ":")


def test_channel_create_dump_values() -> None:
    path = ESL_DIR / "genesis-channel_create.txt"
    if not path.exists():
        pytest.skip("../shared/esl is absent")
    (event,) = parse_all(plain_frame(dump_body(path)))
    assert isinstance(event, EslEvent)
    assert event.name == "CHANNEL_CREATE"
    assert event.unique_id == "d0b1da34-a727-11e4-9728-6f83a2e5e50a"
    assert event.get("variable_sip_call_id") == "6bG.Hj5UCe8pDFEy1R9FO8EIfHtKrZ3H"
    assert event.get("Event-Date-Timestamp") == "1422468044671081"
    # The dump carries the remote SDP unencoded over several lines: one value.
    sdp = event.get("variable_switch_r_sdp")
    assert sdp is not None and sdp.startswith("v=0\no=- 3631463817")
    assert "a=rtcp:4017 IN IP4 192.0.2.2" in sdp
    assert event.get("variable_endpoint_disposition") == "DELAYED NEGOTIATION"
    assert len(event.headers) == sum(
        1 for line in path.read_text().split("\n") if ": " in line and " " not in line.split(":")[0]
    )


def test_background_job_has_its_own_body_after_the_second_content_length() -> None:
    path = ESL_DIR / "genesis-background_job.txt"
    if not path.exists():
        pytest.skip("../shared/esl is absent")
    (event,) = parse_all(plain_frame(dump_body(path)))
    assert isinstance(event, EslEvent)
    assert event.name == "BACKGROUND_JOB"
    assert event.body == path.read_text().split("\n")[-1]
    assert event.body == "+OK 7f4de4bc-17d7-11dd-b7a0-db4edd065621"
    # URL-decoded values; header names compared case-insensitively (the dump says
    # "Event-Date-timestamp").
    assert event.get("Job-Command-Arg") == "sofia/default/1005 '&park'"
    assert event.get("Event-Date-Timestamp") == "1209685023894968"
    assert event.get("Event-Date-GMT") == "Thu, 01 May 2008 23:37:03 GMT"


def test_custom_events_and_repeated_headers() -> None:
    register = ESL_DIR / "genesis-register.txt"
    custom = ESL_DIR / "genesis-custom.txt"
    audio = ESL_DIR / "genesis-mod_audio_stream_play.txt"
    if not register.exists():
        pytest.skip("../shared/esl is absent")
    (reg,) = parse_all(plain_frame(dump_body(register)))
    assert isinstance(reg, EslEvent)
    assert (reg.name, reg.subclass) == ("CUSTOM", "sofia::register")
    assert reg.get("contact") == (
        '"1000" <sip:1000@192.168.1.23:5060;fs_nat=yes;fs_path=sip%3A1000%40192.168.1.23%3A5060>'
    )
    assert reg.get("call-id") == "002D61B2-5F3A-DD11-BF4B-00132019B750@192.168.1.23"
    (reload,) = parse_all(plain_frame(dump_body(custom)))
    assert isinstance(reload, EslEvent)
    assert reload.headers.get_all("Content-Length") == ["41", "42", "43"]
    assert reload.body is None
    (play,) = parse_all(plain_frame(dump_body(audio)))
    assert isinstance(play, EslEvent)
    assert play.subclass == "mod_audio_stream::play"
    assert play.body is not None
    assert json.loads(play.body)["sampleRate"] == 16000


def test_control_messages_as_mod_event_socket_writes_them() -> None:
    stream = b"".join(
        [
            frame([("Content-Type", "auth/request")]),
            frame([("Content-Type", "command/reply"), ("Reply-Text", "+OK accepted")]),
            frame([("Content-Type", "command/reply"), ("Reply-Text", "-ERR invalid")]),
            frame(
                [
                    ("Content-Type", "command/reply"),
                    ("Reply-Text", "+OK Job-UUID: 0b7c1e9e-1a1c-4d57-a0f5-5a3d0f5a0a11"),
                    ("Job-UUID", "0b7c1e9e-1a1c-4d57-a0f5-5a3d0f5a0a11"),
                ]
            ),
            frame([("Content-Type", "api/response"), ("Content-Length", "9")], b"+OK done\n"),
            frame(
                [
                    ("Content-Type", "log/data"),
                    ("Content-Length", "12"),
                    ("Log-Level", "7"),
                    ("Text-Channel", "3"),
                ],
                b"hello world\n",
            ),
            frame(
                [
                    ("Content-Type", "text/disconnect-notice"),
                    ("Content-Length", str(len(DISCONNECT_TEXT))),
                ],
                DISCONNECT_TEXT,
            ),
            frame(
                [
                    ("Content-Type", "text/rude-rejection"),
                    ("Content-Length", str(len(REJECTION_TEXT))),
                ],
                REJECTION_TEXT,
            ),
            frame([("Content-Type", "text/event-xml"), ("Content-Length", "3")], b"<a>"),
        ]
    )
    messages = parse_all(stream, chunk=1)
    kinds = [type(m) for m in messages]
    assert kinds == [
        AuthRequest,
        CommandReply,
        CommandReply,
        CommandReply,
        ApiResponse,
        LogData,
        DisconnectNotice,
        RudeRejection,
        OtherMessage,
    ]
    ok, bad, job = messages[1], messages[2], messages[3]
    assert isinstance(ok, CommandReply) and ok.ok
    assert isinstance(bad, CommandReply) and not bad.ok and bad.reply_text == "-ERR invalid"
    assert isinstance(job, CommandReply) and job.job_uuid == "0b7c1e9e-1a1c-4d57-a0f5-5a3d0f5a0a11"
    api = messages[4]
    assert isinstance(api, ApiResponse) and api.body == "+OK done\n"
    log = messages[5]
    assert isinstance(log, LogData) and log.level == 7 and log.text == "hello world\n"
    rude = messages[7]
    assert isinstance(rude, RudeRejection)
    assert "apply-inbound-acl" in rude.explanation and "event_socket.conf.xml" in ACL_HINT


def test_json_events_put_the_body_under__body() -> None:
    payload = json.dumps(
        {
            "Event-Name": "BACKGROUND_JOB",
            "Job-UUID": "7f4db78a-17d7-11dd-b7a0-db4edd065621",
            "Event-Date-Timestamp": "1209685023894968",
            "_body": "+OK 7f4de4bc-17d7-11dd-b7a0-db4edd065621\n",
        }
    ).encode()
    (event,) = parse_all(
        frame([("Content-Length", str(len(payload))), ("Content-Type", "text/event-json")], payload)
    )
    assert isinstance(event, EslEvent)
    assert event.format == "json"
    assert event.body == "+OK 7f4de4bc-17d7-11dd-b7a0-db4edd065621\n"
    assert event.get("Job-UUID") == "7f4db78a-17d7-11dd-b7a0-db4edd065621"


@pytest.mark.parametrize(
    "data",
    [
        b"Content-Type: api/response\nContent-Length: x\n\n",
        b"Content-Type api/response\n\n",
        "Content-Type: api/response\nContent-Length: \u00b9\n\n".encode(),  # a digit int() refuses
        b"Content-Length: 3\n\nabc",  # no Content-Type
        b"Content-Length: 5\nContent-Type: text/event-plain\n\n \nxy\n",
        (
            b"Content-Length: 30\nContent-Type: text/event-plain\n\n"
            b"A: b\nContent-Length: 99\n\nxyz\n\n\n"
        ),
        b"Content-Length: 4\nContent-Type: text/event-json\n\n[1,2",
        b"Content-Type: api/response\nContent-Length: 10\n\nabc",  # truncated at close
    ],
)
def test_bad_frames_raise_typed_errors(data: bytes) -> None:
    with pytest.raises(EslError) as info:
        parse_all(data)
    assert isinstance(info.value, ParseError) and isinstance(info.value, ValueError)


@given(st.binary(max_size=400))
def test_any_bytes_give_messages_or_an_esl_error(data: bytes) -> None:
    with contextlib.suppress(EslError):
        parse_all(data)


@given(
    st.lists(st.sampled_from(dumps()) if dumps() else st.nothing(), min_size=1, max_size=4),
    st.integers(min_value=1, max_value=700),
)
def test_dumps_split_anywhere_parse_the_same(paths: list[Path], chunk: int) -> None:
    stream = b"".join(plain_frame(dump_body(p)) for p in paths)
    assert parse_all(stream, chunk=chunk) == parse_all(stream)


@given(st.lists(st.sampled_from([b"\n", b":", b" ", b"Content-Length: 2", b"x", b"%"])))
def test_event_plain_bodies_of_fragments_never_crash(parts: list[bytes]) -> None:
    body = b"Event-Name: X\n" + b"".join(parts)
    with contextlib.suppress(EslError):
        parse_all(plain_frame(body))


def test_commands_on_the_wire() -> None:
    assert Auth("ClueCon").encode() == b"auth ClueCon\n\n"
    assert UserAuth("hep", "default", "pw").encode() == b"userauth hep@default:pw\n\n"
    assert (
        Subscribe(("CHANNEL_CREATE", "RECV_RTCP_MESSAGE"), ("sofia::register",), "json").encode()
        == b"event json CHANNEL_CREATE RECV_RTCP_MESSAGE CUSTOM sofia::register\n\n"
    )
    assert NixEvent(("HEARTBEAT",)).encode() == b"nixevent HEARTBEAT\n\n"
    assert Filter("Unique-ID", "abc").encode() == b"filter Unique-ID abc\n\n"
    assert Filter("Unique-ID", "abc", delete=True).encode() == b"filter delete Unique-ID abc\n\n"
    assert Api("uuid_getvar", "u sip_call_id").encode() == b"api uuid_getvar u sip_call_id\n\n"
    assert BgApi("status", job_uuid="j1").encode() == b"bgapi status\nJob-UUID: j1\n\n"
    assert Exit().encode() == b"exit\n\n"
    with pytest.raises(InvalidArgument):
        Api("status\n\nexit").encode()
    with pytest.raises(InvalidArgument):
        Subscribe(("channel_create",)).encode()
    with pytest.raises(InvalidArgument):
        Subscribe(("CHANNEL_CREATE",), (), "yaml").encode()


def test_reconnect_delays_grow_from_1_to_30_s_with_jitter() -> None:
    lows = [reconnect_delay_s(n, 0.0) for n in range(12)]
    highs = [reconnect_delay_s(n, 1.0) for n in range(12)]
    assert lows[0] == 1.0 and highs[0] == pytest.approx(1.2)
    assert lows[1] == pytest.approx(1.6) and highs[1] == pytest.approx(2.4)
    assert highs[-1] == 30.0 and lows[-1] == pytest.approx(24.0)
    assert all(a <= b for a, b in itertools.pairwise(lows))
    with pytest.raises(ValueError):
        reconnect_delay_s(-1, 0.5)


@given(st.integers(min_value=0, max_value=10_000), st.floats(min_value=0.0, max_value=1.0))
def test_reconnect_delay_stays_within_bounds(attempt: int, fraction: float) -> None:
    delay = reconnect_delay_s(attempt, fraction)
    assert 1.0 <= delay <= 30.0
    nominal = min(30.0, 2.0 ** min(attempt, 62))
    assert abs(delay - nominal) <= 0.2 * nominal + 1e-9
