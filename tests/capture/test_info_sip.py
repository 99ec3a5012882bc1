"""The counts tap's SIP test: the one-match road for the usual start line gives what the
whole test gives, on lines near the usual shape and on arbitrary bytes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rtcscope.capture.info import _start_line_is_sip, looks_like_sip

_pieces = st.sampled_from(
    [
        b"INVITE",
        b"ACK",
        b"invite",
        b"SIP/2.0",
        b"SIP/2.0 ",
        b"SIP/2.1",
        b" ",
        b"  ",
        b"\r\n",
        b"\r",
        b"\n",
        b"sip:a@b",
        b"200",
        b"20",
        b"OK",
        b"x" * 300,
        b"\t",
        b"\x00",
        b"\xff",
        b"1",
    ]
)


@settings(max_examples=2000, deadline=None)
@given(st.lists(_pieces, max_size=12), st.binary(max_size=8))
def test_the_usual_road_agrees_with_the_whole_test(parts: list[bytes], tail: bytes) -> None:
    data = b"".join(parts) + tail
    assert looks_like_sip(data) is _start_line_is_sip(data)
    assert looks_like_sip(memoryview(data)) is _start_line_is_sip(data)


@given(st.binary(max_size=64))
def test_arbitrary_bytes(data: bytes) -> None:
    assert looks_like_sip(data) is _start_line_is_sip(data)


def test_the_window_edge() -> None:
    """The line must end within the first 1,024 bytes, by both roads."""
    for size in range(1000, 1030):
        line = b"OPTIONS sip:" + b"a" * (size - len(b"OPTIONS sip: SIP/2.0")) + b" SIP/2.0"
        data = line + b"\r\nVia: x\r\n\r\n"
        assert (
            looks_like_sip(data)
            is _start_line_is_sip(data)
            is (len(line) + 2 <= 1024 or len(line) == 1024)
        )


_request_lines = st.tuples(
    st.sampled_from([b"INVITE", b"invite", b"Invite", b"ACK", b"", b"IN VITE", b"SIP/2.0", b"B1"]),
    st.sampled_from([b" ", b"  ", b"", b"\t"]),
    st.sampled_from([b"sip:a@b", b"", b"a b", b"x\r", b"x\ny", b"\r\n"]),
    st.sampled_from([b" ", b"  ", b""]),
    st.sampled_from([b"SIP/2.0", b"SIP/2.1", b"sip/2.0", b"SIP/2.0 ", b"SIP/2.00"]),
    st.sampled_from([b"\r\n", b"\n", b"\r", b"", b" \r\n"]),
    st.binary(max_size=4),
)
_status_lines = st.tuples(
    st.sampled_from([b"SIP/2.0 ", b"SIP/2.0", b"SIP/2.0  ", b"sip/2.0 "]),
    st.sampled_from([b"200", b"20", b"2x0", b"1234", b"", b"20\r\n"]),
    st.sampled_from([b" OK\r\n", b"\r\n", b"", b"\n"]),
)


@settings(max_examples=1500, deadline=None)
@given(_request_lines | _status_lines)
def test_start_lines_near_the_usual_shape(parts: tuple[bytes, ...]) -> None:
    data = b"".join(parts)
    assert looks_like_sip(data) is _start_line_is_sip(data)
