"""``tests/data/sip-sctp-tls.pcap``: the README's capture of SIP over SCTP and TLS flows.

Made by this module from the packets the SCTP and TLS tests write (a call rejected with 403
and an OPTIONS ping over SCTP, then TLS on 5061, 443 and 15061 beside SIP over plain TCP);
``tests/capture/test_info_sip_transports.py`` checks that the shipped file is what this makes.
Run ``.venv/bin/python -m tests.capture.made_transports`` to write it again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scapy.utils import wrpcap

from tests.capture.made_captures import _stamp as stamp
from tests.capture.test_sctp import sip_over_sctp_packets
from tests.conftest import DATA
from tests.test_tls_flows import tls_capture_packets

SHIPPED = DATA / "sip-sctp-tls.pcap"


def transports_packets() -> list[Any]:
    return stamp([*sip_over_sctp_packets(), *tls_capture_packets()])


def make_transports_capture(out: Path) -> None:
    wrpcap(str(out), transports_packets())


if __name__ == "__main__":
    make_transports_capture(SHIPPED)
    print(SHIPPED)
