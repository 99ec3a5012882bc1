"""StreamIndex.for_call against its definition, computed here: the call's own streams (its
Call-ID) and the streams without a Call-ID starting within [start, end], in frame order
(a stable sort of the own streams, then the loose ones)."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from rtcscope.sip.diagnosis.media import StreamIndex


@dataclass
class _Stream:  # what the index reads of an RtpStream
    call_id: str | None
    start_ns: int
    first_frame: int


_STREAMS = st.lists(
    st.builds(
        _Stream,
        call_id=st.sampled_from([None, "a", "b"]),
        start_ns=st.integers(0, 50),
        first_frame=st.integers(1, 30),  # equal frames too: the order must stay stable
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(
    streams=_STREAMS,
    call_id=st.sampled_from(["a", "b", "c"]),
    span=st.tuples(st.integers(0, 50), st.integers(0, 50)),
)
def test_for_call_is_own_and_loose_in_span_in_frame_order(
    streams: list[_Stream], call_id: str, span: tuple[int, int]
) -> None:
    start, end = span
    own = [s for s in streams if s.call_id == call_id]
    loose = sorted((s for s in streams if s.call_id is None), key=lambda s: s.start_ns)
    expected = sorted(
        [*own, *(s for s in loose if start <= s.start_ns <= end)], key=lambda s: s.first_frame
    )
    index = StreamIndex(streams)  # type: ignore[arg-type]
    got = index.for_call(call_id, start, end)
    assert [id(s) for s in got] == [id(s) for s in expected]
    # asked again (the index keeps its lists): the same
    assert [id(s) for s in index.for_call(call_id, start, end)] == [id(s) for s in expected]
