"""Event -> HEP mapping on the real dumps (../shared/esl) and on the RTCP/QoS fixtures written
in FreeSWITCH's format (tests/hepipe/fixtures, see its README: no freely licensed dump of
those events exists). Expected values are read from the fixture text, not from the mapper."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcscope.esl.protocol import EslEvent, Headers, parse_event_plain
from rtcscope.hepipe.mapping import (
    MAX_PAYLOAD_BYTES,
    PROTO_LOG,
    PROTO_QOS_REPORT,
    PROTO_RTCP_JSON,
    QOS_KEYS,
    SKIP_NO_CALL_ID,
    SKIP_NO_TIMESTAMP,
    SKIP_QOS_DONE,
    HepipeMapper,
    parse_uuid_getvar,
    split_timestamp_us,
)
from tests.esl.fake_freeswitch import dump_body, plain_event
from tests.esl.test_protocol import ESL_DIR

FIXTURES = Path(__file__).parent / "fixtures"
A_LEG = "d0b1da34-a727-11e4-9728-6f83a2e5e50a"
A_CALL_ID = "6bG.Hj5UCe8pDFEy1R9FO8EIfHtKrZ3H"


def fixture_event(name: str) -> EslEvent:
    return parse_event_plain((FIXTURES / name).read_bytes())


def fixture_value(name: str, header: str) -> str:
    """A header's value read from the fixture text (percent-decoding not needed for these)."""
    for line in (FIXTURES / name).read_text().split("\n"):
        key, _, value = line.partition(": ")
        if key == header:
            return value
    raise KeyError(header)


def real_event(name: str) -> EslEvent:
    path = ESL_DIR / name
    if not path.exists():
        pytest.skip("../shared/esl is absent")
    return parse_event_plain(dump_body(path))


def expected_time(stamp_text: str) -> tuple[int, int]:
    # Independent of the mapper's integer division: split the decimal text.
    return int(stamp_text[:-6]), int(stamp_text[-6:])


def test_channel_create_becomes_a_type_100_log_with_the_call_id() -> None:
    mapper = HepipeMapper()
    result = mapper.feed(real_event("genesis-channel_create.txt"))
    (message,) = result.messages
    assert message.proto_type == PROTO_LOG == 100
    assert message.correlation_id == A_CALL_ID
    assert (message.ts_sec, message.ts_usec) == expected_time("1422468044671081")
    payload = message.payload_json()
    assert payload["event"] == "CHANNEL_CREATE"
    assert payload["unique_id"] == A_LEG
    assert payload["call_id"] == A_CALL_ID
    assert payload["direction"] == "inbound"
    assert (payload["caller"], payload["callee"]) == ("100", "101")
    assert payload["state"] == "DOWN"
    assert payload["timestamp_us"] == 1422468044671081
    headers = payload["headers"]
    assert isinstance(headers, dict) and headers["Caller-Context"] == "out-extensions"
    assert message.src == message.dst == "172.16.7.69"


def test_rtcp_events_become_homer_rtcp_json_with_integer_ssrcs() -> None:
    mapper = HepipeMapper()
    mapper.feed(real_event("genesis-channel_create.txt"))
    mapper.feed(fixture_event("channel_answer.txt"))
    recv = mapper.feed(fixture_event("recv_rtcp_message.txt")).messages[0]
    assert recv.proto_type == PROTO_RTCP_JSON == 5
    assert recv.correlation_id == A_CALL_ID
    stamp = fixture_value("recv_rtcp_message.txt", "Event-Date-Timestamp")
    assert (recv.ts_sec, recv.ts_usec) == expected_time(stamp)
    body = recv.payload_json()
    assert body["type"] == 200
    assert body["ssrc"] == 0xF3A5C7E1 == 4087728097
    assert body["report_count"] == 1
    (block,) = body["report_blocks"]  # type: ignore[misc]
    assert block == {
        "source_ssrc": 0x0D45E2B1,
        "fraction_lost": 3,
        "packets_lost": 2,
        "highest_seq_no": 11533,
        "ia_jitter": 37,
        "lsr": 3442077696,
        "dlsr": 65536,
    }
    assert body["sender_information"] == {
        "ntp_timestamp_sec": 3631456852,
        "ntp_timestamp_usec": 2147483648,
        "rtp_timestamp": 55840,
        "packets": 349,
        "octets": 55840,
    }
    # A received report travelled from the peer (its SDP: 192.0.2.2:4016) to FreeSWITCH.
    assert (recv.src, recv.sport, recv.dst, recv.dport) == ("192.0.2.2", 4016, "172.16.7.69", 16412)
    sent = mapper.feed(fixture_event("send_rtcp_message.txt")).messages[0]
    assert sent.payload_json()["ssrc"] == 0x0D45E2B1
    assert (sent.src, sent.dst) == ("172.16.7.69", "192.0.2.2")


def test_receiver_report_and_unindexed_source_headers() -> None:
    # hepipe.js reads SEND_RTCP_MESSAGE blocks as "Source-*" without an index: accepted too.
    mapper = HepipeMapper()
    mapper.learn_call_id(A_LEG, A_CALL_ID)
    event = parse_event_plain(
        plain_event(
            [
                ("Event-Name", "SEND_RTCP_MESSAGE"),
                ("Event-Date-Timestamp", "1422468055000009"),
                ("Unique-ID", A_LEG),
                ("SSRC", "0d45e2b1"),
                ("NTP-Most-Significant-Word", "0"),
                ("Source-SSRC", "f3a5c7e1"),
                ("Source-Lost", "7"),
            ]
        )
    )
    body = mapper.feed(event).messages[0].payload_json()
    assert body["type"] == 201
    assert "sender_information" not in body
    assert body["report_blocks"][0]["source_ssrc"] == 0xF3A5C7E1  # type: ignore[index]
    assert body["report_blocks"][0]["packets_lost"] == 7  # type: ignore[index]


def test_one_qos_report_per_leg_with_the_events_variables() -> None:
    mapper = HepipeMapper()
    mapper.feed(real_event("genesis-channel_create.txt"))
    hangup = mapper.feed(fixture_event("channel_hangup_complete.txt"))
    kinds = sorted(m.proto_type for m in hangup.messages)
    assert kinds == [PROTO_QOS_REPORT, PROTO_LOG]
    qos = next(m for m in hangup.messages if m.proto_type == PROTO_QOS_REPORT)
    body = qos.payload_json()
    assert set(body) == set(QOS_KEYS)
    f = "channel_hangup_complete.txt"

    def var(name: str) -> str:
        return fixture_value(f, "variable_rtp_audio_" + name)

    assert body["CORRELATION_ID"] == body["RTP_SIP_CALL_ID"] == A_CALL_ID
    assert body["MIN_JITTER"] == float(var("in_jitter_min_variance"))
    assert body["MAX_JITTER"] == float(var("in_jitter_max_variance"))
    assert body["JITTER"] == pytest.approx(
        (float(var("in_jitter_min_variance")) + float(var("in_jitter_max_variance"))) / 2
    )
    assert body["TL_BYTE"] == int(var("in_media_bytes")) + int(var("out_media_bytes"))
    assert body["TOTAL_PK"] == int(var("in_packet_count")) + int(var("out_packet_count"))
    assert body["PACKET_LOSS"] == int(var("in_skip_packet_count")) + int(
        var("out_skip_packet_count")
    )
    assert body["DELTA"] == float(var("in_mean_interval"))
    assert body["MOS"] == float(var("in_mos"))
    assert body["CODEC_PT"] == int(fixture_value(f, "variable_rtp_audio_recv_pt"))
    assert body["PTIME"] == int(fixture_value(f, "variable_rtp_use_codec_ptime"))
    assert body["CLOCK"] == int(fixture_value(f, "variable_rtp_use_codec_rate"))
    assert body["CODEC_NAME"] == fixture_value(f, "variable_rtp_use_codec_name")
    assert body["REPORT_TS"] == int(fixture_value(f, "Event-Date-Timestamp"))
    assert (body["SRC_IP"], body["SRC_PORT"], body["DST_IP"], body["DST_PORT"]) == (
        "172.16.7.69",
        16412,
        "192.0.2.2",
        4016,
    )
    assert body["TYPE"] == "CHANNEL_HANGUP_COMPLETE"
    assert qos.mos == 448
    destroy = mapper.feed(fixture_event("channel_destroy.txt"))
    assert [m.proto_type for m in destroy.messages] == [PROTO_LOG]
    assert SKIP_QOS_DONE in destroy.skipped
    assert A_LEG not in mapper.legs  # destroyed legs leave the cache
    assert SKIP_QOS_DONE in mapper.feed(fixture_event("channel_destroy.txt")).skipped


def test_unknown_unique_id_asks_for_a_lookup_then_skips() -> None:
    mapper = HepipeMapper()
    rtcp = fixture_event("recv_rtcp_message.txt")
    first = mapper.feed(rtcp)
    assert first.messages == [] and first.lookup_uuid == A_LEG
    mapper.learn_call_id(A_LEG, parse_uuid_getvar(A_CALL_ID))
    assert mapper.feed(rtcp).messages[0].correlation_id == A_CALL_ID
    other = HepipeMapper()
    other.learn_call_id(A_LEG, parse_uuid_getvar("-ERR No such channel!\n"))
    again = other.feed(rtcp)
    assert again.lookup_uuid is None and again.skipped == [SKIP_NO_CALL_ID]
    assert parse_uuid_getvar("_undef_") is None


def test_b_leg_is_grouped_under_the_originators_call_id() -> None:
    mapper = HepipeMapper()
    mapper.feed(real_event("genesis-channel_create.txt"))
    b_leg = parse_event_plain(
        plain_event(
            [
                ("Event-Name", "CHANNEL_CREATE"),
                ("Event-Date-Timestamp", "1422468044701000"),
                ("Unique-ID", "9a1e0f7c-a727-11e4-9729-6f83a2e5e50a"),
                ("Call-Direction", "outbound"),
                ("Other-Type", "originator"),
                ("Other-Leg-Unique-ID", A_LEG),
                ("variable_sip_call_id", "b-leg-call-id@172.16.7.69"),
            ]
        )
    )
    (message,) = mapper.feed(b_leg).messages
    assert message.correlation_id == A_CALL_ID
    # The A-leg, told of its originatee, keeps its own Call-ID.
    a_bridge = parse_event_plain(
        plain_event(
            [
                ("Event-Name", "CHANNEL_BRIDGE"),
                ("Event-Date-Timestamp", "1422468045200000"),
                ("Unique-ID", A_LEG),
                ("Other-Type", "originatee"),
                ("Other-Leg-Unique-ID", "9a1e0f7c-a727-11e4-9729-6f83a2e5e50a"),
                ("variable_sip_call_id", A_CALL_ID),
            ]
        )
    )
    assert mapper.feed(a_bridge).messages[0].correlation_id == A_CALL_ID


def test_registration_events_use_the_register_call_id() -> None:
    mapper = HepipeMapper()
    (message,) = mapper.feed(real_event("genesis-register.txt")).messages
    assert message.proto_type == PROTO_LOG
    assert message.correlation_id == "002D61B2-5F3A-DD11-BF4B-00132019B750@192.168.1.23"
    assert (message.ts_sec, message.ts_usec) == expected_time("1245190546126571")
    payload = message.payload_json()
    assert payload["event"] == "CUSTOM sofia::register"
    assert payload["caller"] == "1000"


def test_oversized_call_events_drop_variables_to_fit_one_hep_packet() -> None:
    mapper = HepipeMapper()
    big = [("variable_switch_r_sdp", "a=x\n" * 20_000), ("variable_other", "y" * 50_000)]
    event = EslEvent(
        Headers(
            [
                ("Event-Name", "CHANNEL_HANGUP_COMPLETE"),
                ("Event-Date-Timestamp", "1422468067318554"),
                ("Unique-ID", A_LEG),
                ("variable_sip_call_id", A_CALL_ID),
                ("Hangup-Cause", "NORMAL_CLEARING"),
                *big,
            ]
        )
    )
    (message,) = mapper.feed(event).messages
    assert len(message.payload) <= MAX_PAYLOAD_BYTES
    payload = message.payload_json()
    assert payload["headers_truncated"] is True
    assert payload["headers"] == {
        "Event-Name": "CHANNEL_HANGUP_COMPLETE",
        "Event-Date-Timestamp": "1422468067318554",
        "Unique-ID": A_LEG,
        "Hangup-Cause": "NORMAL_CLEARING",
    }


def test_cache_is_bounded() -> None:
    mapper = HepipeMapper(cache_size=2)
    for index in range(3):
        mapper.learn_call_id(f"uuid-{index}", f"call-{index}")
    assert list(mapper.legs) == ["uuid-1", "uuid-2"]


def test_missing_timestamp_and_unreported_events_are_skipped() -> None:
    mapper = HepipeMapper(rtcp_events=False)
    event = EslEvent(Headers([("Event-Name", "CHANNEL_ANSWER"), ("Unique-ID", "u")]))
    assert mapper.feed(event).skipped == [SKIP_NO_TIMESTAMP]
    assert mapper.feed(fixture_event("recv_rtcp_message.txt")).messages == []
    assert mapper.feed(real_event("genesis-heartbeat.txt")).messages == []


@given(st.text(max_size=20))
def test_timestamp_split_is_exact_or_none(text: str) -> None:
    result = split_timestamp_us(text)
    if result is not None:
        assert result[0] * 1_000_000 + result[1] == int(text.strip())
        assert 0 <= result[1] < 1_000_000


@given(
    st.sampled_from(
        ["RECV_RTCP_MESSAGE", "SEND_RTCP_MESSAGE", "CHANNEL_DESTROY", "CHANNEL_CREATE", "CUSTOM"]
    ),
    st.dictionaries(
        st.sampled_from(
            [
                "SSRC",
                "Source0-SSRC",
                "Source0-Lost",
                "Source1-SSRC",
                "NTP-Most-Significant-Word",
                "Event-Date-Timestamp",
                "variable_rtp_audio_in_packet_count",
                "variable_rtp_audio_in_mos",
                "variable_rtp_audio_in_jitter_min_variance",
                "variable_local_media_ip",
                "variable_remote_media_ip",
                "variable_local_media_port",
                "Other-Leg-Unique-ID",
                "variable_sip_call_id",
                "Event-Subclass",
                "call-id",
            ]
        ),
        st.text(max_size=12),
    ),
)
def test_mapper_never_crashes_on_odd_values(name: str, values: dict[str, str]) -> None:
    mapper = HepipeMapper()
    mapper.learn_call_id("u", "c")
    headers = [("Event-Name", name), ("Unique-ID", "u"), *values.items()]
    result = mapper.feed(EslEvent(Headers(headers)))
    for message in result.messages:
        assert 0 <= message.ts_usec < 1_000_000
        message.payload_json()
