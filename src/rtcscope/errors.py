"""The one error tree of rtcscope.

::

    RtcscopeError                      root; the CLI maps every subclass to an exit code
    ├── UsageError                     bad command-line options (cli/ only) -> exit 2
    ├── InvalidArgument (ValueError)   a library function got a value it cannot use -> exit 2
    │                                  (``param`` names the parameter; the CLI names its flag)
    ├── InputError                     unreadable or invalid input         -> exit 3
    │   ├── ParseError (ValueError)    bytes that do not follow their format
    │   │   ├── CaptureError           pcap/pcapng records and link layers
    │   │   ├── PacketError            IP/UDP/TCP/ICMP and tunnels
    │   │   ├── RtpError               RTP/RTCP/STUN/telephone-event
    │   │   ├── SipError               SIP/SDP (the parser flags problems; this is for framing)
    │   │   ├── HepError               HEPv1/v2/v3
    │   │   └── EslError               FreeSWITCH Event Socket frames
    │   ├── MediaError                 audio cannot be decoded or written
    │   ├── OutputError                an output file cannot be written (OS error, size)
    │   ├── ConfigError                a settings file is unreadable or invalid
    │   └── SrtpError                  SRTP/SRTCP keys missing or wrong
    └── PeerError                      a network peer failed (refused, timed out)   -> exit 4

Messages name the layer and the fault, with the byte offset where there is one:
"pcap record 1288 at offset 401224 is truncated: 60 of 214 bytes".

Errors by layer: the library (everything outside ``cli/``) never raises ``UsageError`` and
never names a command-line flag; it raises :class:`InvalidArgument` naming its own parameter
(``param``), and the CLI says which option that was, as click's ``BadParameter`` does
("Invalid value for '--ssrc': ..."). Data that cannot give an answer (a capture without SIP
calls, a time a pcap cannot hold) is an :class:`InputError` (exit 3), not a usage error.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FOUND_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_INVALID_INPUT = 3
EXIT_PEER_FAILED = 4


class RtcscopeError(Exception):
    """Root of every error rtcscope raises on purpose."""

    exit_code = EXIT_INVALID_INPUT


class UsageError(RtcscopeError):
    """The command line asks for something that cannot be done."""

    exit_code = EXIT_USAGE


class InvalidArgument(RtcscopeError, ValueError):
    """A library function was given a value it cannot use (out of range, malformed, naming
    nothing in the data). ``param`` is the function's parameter name, never a CLI flag; the
    CLI maps it to the option the user typed (cli/errors.py)."""

    exit_code = EXIT_USAGE

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


class InputError(RtcscopeError):
    """The input (a file, a stream, a key) is unreadable or invalid."""

    exit_code = EXIT_INVALID_INPUT


class ParseError(InputError, ValueError):
    """Bytes that do not follow their format. ``offset`` is where the fault is, if known."""

    def __init__(self, message: str, offset: int | None = None) -> None:
        super().__init__(message)
        self.offset = offset


class CaptureError(ParseError):
    """A pcap/pcapng file or one of its records is truncated or corrupt."""

    def __init__(self, message: str, offset: int | None = None, record: int | None = None) -> None:
        super().__init__(message, offset)
        self.record = record


class PacketError(ParseError):
    """A link-layer, IP, UDP, TCP, ICMP or tunnel header is malformed."""


class RtpError(ParseError):
    """An RTP, RTCP, STUN or telephone-event packet is malformed."""


class SipError(ParseError):
    """A SIP or SDP message cannot be framed."""


class HepError(ParseError):
    """A HEP packet is malformed."""


class EslError(ParseError):
    """A FreeSWITCH Event Socket frame is malformed."""


class MediaError(InputError):
    """Audio cannot be decoded or written."""


class OutputError(InputError):
    """An output file cannot be written: missing folder, read-only or full file system, a
    size the format cannot hold. No partial file is left behind (``rtcscope.outfile``)."""


class ConfigError(InputError):
    """A settings file (hepipe, Dockerfile lint) cannot be read or holds invalid values."""


class SrtpError(InputError):
    """SRTP/SRTCP cannot be decrypted: no key, a wrong key, an unsupported suite."""


class EncryptedPayload(SrtpError):
    """Payloads judged encrypted were not decoded (they would decode to noise); the caller
    may ask for them to be decoded as they are (``force``)."""


class PeerError(RtcscopeError):
    """A network peer refused, rejected or did not answer."""

    exit_code = EXIT_PEER_FAILED


class UnknownPayloadType(MediaError):
    """A stream's payload type has no rtpmap in the capture and no static meaning: its codec
    must be named by the caller (``ExtractOptions.codec``)."""

    def __init__(self, ssrc: int, payload_type: int) -> None:
        super().__init__(
            f"stream 0x{ssrc:08X}: payload type {payload_type} has no rtpmap in the capture "
            "and no static meaning: the codec must be named (NAME/RATE[/CHANNELS])"
        )
        self.ssrc = ssrc
        self.payload_type = payload_type
