"""_sipscan.sdp_holes (the C road of the announcer's SDP split) against its specification,
the regular expression rtcscope.sip.sdp._CHANGING_VALUE's split (its values, and its other
parts as the length-prefixed key, made here), on generated SDPs of the announcer's property
tests, the same mutated, bytes near the pattern's edges and random bytes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcscope.sip import sdp
from tests.sip.test_announce_template import calls

sipscan = pytest.importorskip("rtcscope.sip._sipscan")
if not hasattr(sipscan, "sdp_holes"):
    pytest.skip("the accelerator is not built from this source", allow_module_level=True)


def check(raw: bytes) -> None:
    parts = sdp._CHANGING_VALUE.split(raw)
    key = b"".join(
        len(part).to_bytes(4, "little") + part
        for i, part in enumerate(parts)
        if i % 3 != 2  # a text or a prefix
    )
    assert sipscan.sdp_holes(raw) == (key, parts[2::3])


@settings(max_examples=300, deadline=None)
@given(calls(), st.integers(0, 400), st.binary(max_size=3), st.integers(0, 3))
def test_generated_and_mutated_sdps_split_as_the_pattern_splits(
    bodies: list[bytes], at: int, inserted: bytes, dropped: int
) -> None:
    for raw in bodies:
        check(raw)
        cut = min(at, len(raw))
        check(raw[:cut] + inserted + raw[cut + dropped :])


# Pieces around each branch's edges: prefixes, values, what may follow them.
PIECES = st.sampled_from(
    [b"\n", b"\r\n", b"\r", b"o=", b"c=IN IP4 ", b"c=IN IP6 ", b"c=IN IP5 ", b"c=IN IP4",
     b"m=", b"m=audio ", b"m=a ", b"m=Audio ", b"m= ", b"20000", b"123456", b"0", b"/", b"/2",
     b" ", b"\t", b"RTP/AVP", b"\x7f", b"\x00", b"\xc2\x85", b"10.0.0.1", b"a/b", b"-", b"~",
     b"x", b"9"]
)  # fmt: skip


@settings(max_examples=1000, deadline=None)
@given(st.lists(PIECES, max_size=24))
def test_pieces_near_the_pattern_split_as_the_pattern_splits(pieces: list[bytes]) -> None:
    check(b"".join(pieces))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_split_as_the_pattern_splits(raw: bytes) -> None:
    check(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\n",
        b"\no=",
        b"\no=\n",
        b"v=0\r\no=- 1 2 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
        b"m=audio 20000 RTP/AVP 8\r\nm=video 9/2 RTP/AVP 96\r\n",
        b"\nm=audio 65536 R\nm=audio 123456 R\nm=audio 1/ R\nm=audio 1/2 \n",
        b"\nc=IN IP4 a \t \r\n\nc=IN IP4 a/1\r\n\nc=IN IP4 a\r\r\n\nc=IN IP4 \r\n",
    ],
)
def test_edges_split_as_the_pattern_splits(raw: bytes) -> None:
    check(raw)


def test_not_bytes_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        sipscan.sdp_holes(bytearray(b"\no=x\n"))  # type: ignore[arg-type]
