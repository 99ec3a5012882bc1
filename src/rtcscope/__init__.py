"""rtcscope: captures, RTP streams, audio, SIP calls and HEP for people who run VoIP services."""

from __future__ import annotations

__version__ = "0.1.0"
