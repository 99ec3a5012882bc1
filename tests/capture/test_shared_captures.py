"""Every real capture (../shared/captures and tests/data) read as capinfos and tshark read it.

Packet count and each interface's link type against ``capinfos``; every frame's timestamp
(exact nanoseconds as text), interface, VLAN ids, addresses and ports against tshark's
fields. capinfos prints a wrong last-packet time for heplify-sip_ipv6_udp.pcap (its times jump
to 2092, see SOURCES.md), which is why times are checked against tshark, frame by frame.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.capture.tshark_compare import (
    CAPINFOS_ENCAPSULATIONS,
    capinfos_count_and_interfaces,
    compare_with_tshark,
    read_packets,
)
from tests.conftest import DATA, IN_CI, shared_captures

CAPTURES = shared_captures() + sorted(DATA.glob("*.pcap*"))


def test_the_shared_captures_are_here() -> None:
    if not shared_captures() and not IN_CI:
        pytest.skip("../shared/captures is absent")
    assert len(shared_captures()) >= 21


@pytest.mark.peer
@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_count_and_link_types_equal_capinfos(path: Path) -> None:
    packets, _ = read_packets(path)
    count, names = capinfos_count_and_interfaces(path)
    assert len(packets) == count
    from rtcscope.capture.reader import open_capture

    with open_capture(path) as reader:
        for _ in reader:
            pass
        ours = [i.linktype for i in reader.interfaces]
    assert len(ours) == len(names)
    for linktype, name in zip(ours, names, strict=True):
        assert linktype in CAPINFOS_ENCAPSULATIONS[name], (linktype, name)


@pytest.mark.peer
@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_frame_equals_tshark(path: Path) -> None:
    assert compare_with_tshark(path) > 0
