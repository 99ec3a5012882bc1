"""The report's "packets read" is the capture's record count (capinfos'), whichever path the
pass took for each record (the RTP scanner's own counter differs between its array and
per-packet paths)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rtcscope.report.data import report_data
from rtcscope.scan import ScanOptions, scan
from tests.capture.tshark_compare import capinfos_count_and_interfaces
from tests.conftest import DATA, shared_capture


@pytest.mark.peer
@pytest.mark.parametrize(
    "path",
    [DATA / "SIP_DTMF2.pcap", DATA / "sip-rtp-opus.pcap", "ndpi-meet-srtp-ipv6.pcapng"],
    ids=str,
)
def test_packets_read_is_the_capture_record_count(path: Path | str) -> None:
    capture = shared_capture(path) if isinstance(path, str) else path
    model = scan(capture, ScanOptions())
    count, _ = capinfos_count_and_interfaces(capture)
    assert report_data(model, capture).packets_read == count
