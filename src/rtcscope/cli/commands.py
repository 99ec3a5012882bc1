"""The command table: which module registers each command, and each command's summary
(read by the root group and ``rtcscope --help`` without importing any command module)."""

from __future__ import annotations

# The module that registers each command (or command group) on ``app`` when imported.
# Only the module of the command being run is imported, so start-up stays short: the
# commands pull in PyAV, NumPy and the SIP machinery, which `info` does not need.
COMMANDS: dict[str, str] = {
    "analyze": "rtcscope.cli.analyze",
    "info": "rtcscope.cli.info",
    "streams": "rtcscope.cli.streams",
    "split": "rtcscope.cli.streams",
    "extract": "rtcscope.cli.extract",
    "calls": "rtcscope.cli.calls",
    "flow": "rtcscope.cli.flow",
    "diagnose": "rtcscope.cli.diagnose",
    "route": "rtcscope.cli.route",
    "hep": "rtcscope.cli.hep",
    "hepipe": "rtcscope.cli.hepipe",
    "sipp": "rtcscope.cli.sipp",
    "replay": "rtcscope.cli.replay",
    "dockerfile": "rtcscope.cli.dockerfile",
    "index": "rtcscope.cli.index",
    "query": "rtcscope.cli.query",
    "report": "rtcscope.cli.report",
    "show": "rtcscope.cli.show",
}


# The first line of each command's help, for `rtcscope --help` without importing every
# command module (PyAV, NumPy, DuckDB, Dask...: most of a second). A test checks these
# against the commands' own help.
SUMMARIES: dict[str, str] = {
    "analyze": "The main job: capture summary, calls, streams, audio, diagnosis, from ONE pass",
    "info": "Format, link types, time span, bytes, and IPv4/IPv6/UDP/TCP/ICMP/SIP/RTP/... counts",
    "streams": "Every RTP stream with Wireshark's statistics (tshark -z rtp,streams) and ours",
    "split": "One pcap per RTP stream (Ethernet, replayable by sipp's play_pcap_audio)",
    "extract": "Audio from RTP: WAV for any supported codec, Ogg Opus and SILK bitstreams",
    "calls": "Every call of a capture: from, to, ring/answer/end times, final response, state",
    "flow": "A call's ladder: one column per element with its addresses, retransmissions marked",
    "diagnose": "Findings for every INVITE call, grouped by code: ACK/BYE paths hop by hop",
    "route": "The ACK's path for a 2xx (or the callee's BYE for an INVITE), hop by hop",
    "show": "Print the SIP message of one frame: start line, headers and body (SDP) as captured",
    "report": "Calls, their ladders, findings and messages, streams with jitter/delta/loss plots",
    "hep": "HEP (Homer): send a capture's SIP, run a collector, search it, decode HEP",
    "hepipe": "Send FreeSWITCH call events, RTCP reports and per-leg QoS to a HEP collector",
    "sipp": "sipp test beds: re-play a captured stream (play_pcap_audio), audio for rtp_stream",
    "replay": "Send the stream's RTP (and RTCP) payloads byte for byte from an ordinary UDP socket",
    "index": "Index captures (calls, streams, findings, SIP messages) into Parquet, in parallel",
    "query": "Calls, streams, findings and messages of many captures, by SQL or canned filters",
    "dockerfile": "Lint Dockerfiles (apt cache busting, package lists, clean-up) and fix the safe",
}
