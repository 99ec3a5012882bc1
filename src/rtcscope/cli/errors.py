"""The library's errors in the words of the command line.

The library never names a flag (errors.py): an :class:`~rtcscope.errors.InvalidArgument`
names the function parameter (``ssrc``, ``call_id``, ``rate_per_s``). Here that parameter is
matched to the option of the command being run, and the message says it the way click's
``BadParameter`` does: ``Invalid value for '--ssrc': 0x1234ABCD: no RTP stream has that SSRC``,
then ``Try 'rtcscope extract --help' for help.``. Other errors get a hint naming the option
that would help, when the command has it (an SRTP stream without its key: ``--srtp-key``; a
payload type without rtpmap: the command again with ``--codec``, which runs as printed).
Loaded only when an error is reported.
"""

from __future__ import annotations

import shlex
from typing import Any

from rtcscope.errors import (
    EncryptedPayload,
    InvalidArgument,
    RtcscopeError,
    SrtpError,
    UnknownPayloadType,
)

# Library parameter -> the command parameters that carry it, where the names differ.
PARAM_ALIASES: dict[str, tuple[str, ...]] = {
    "hosts": ("host",),
    "call_id": ("call",),
    "index": ("stream",),
    "rate_per_s": ("rate",),
    "version": ("hep_version",),
    "url": ("to",),
    "path": ("out", "output", "file"),
    "kind": ("to", "out"),
    "start_s": ("start", "seconds"),
    "time": ("since", "until", "from_", "to"),
    "address": ("alias", "proxy"),
    "calls": ("export",),
}

# A selection that named nothing: the options that make one.
CHOICE_PARAMS = ("stream", "ssrc", "call")


def _command(args: list[str]) -> tuple[Any, str, list[str]]:
    """The click command ``args`` run (a leaf, or the deepest group named), its path and
    the arguments it was given."""
    import typer

    from rtcscope.cli.app import app

    command: Any = typer.main.get_command(app)
    path = ["rtcscope"]
    rest = list(args)
    while hasattr(command, "commands"):
        name = next((a for a in rest if not a.startswith("-")), None)
        if name is None or name not in command.commands:
            break
        rest = rest[rest.index(name) + 1 :]
        command = command.commands[name]
        path.append(name)
    return command, " ".join(path), rest


def _capture_file(command: Any, path: str, rest: list[str]) -> str | None:
    """The capture the command was given (its ``file``/``capture`` argument), if any."""
    context = command.make_context(path, list(rest), resilient_parsing=True)
    for name in ("file", "capture"):
        value = context.params.get(name)
        if value is not None:
            return str(value)
    return None


def _hint(param: Any) -> str:
    """How click names a parameter in an error: its long option, or an argument's name."""
    if param.param_type_name == "argument":
        return str(getattr(param, "metavar", None) or param.name).upper()
    longs = [str(o) for o in param.opts if o.startswith("--")]
    return max(longs or [str(o) for o in param.opts], key=len)


def describe_invalid_argument(exc: InvalidArgument, args: list[str]) -> str:
    """The lines to print for ``exc`` raised while running ``rtcscope ARGS``."""
    command, path, rest = _command(args)
    params = {p.name: p for p in getattr(command, "params", [])}
    if exc.param == "choice":
        # hints that run as printed: the list of streams, and the command with one chosen
        flags = [_hint(params[n]) for n in CHOICE_PARAMS if n in params]
        lines = [f"rtcscope: {exc}" + (f"; give {', '.join(flags)}" if flags else "")]
        file = _capture_file(command, path, rest)
        if file is not None:
            lines.append(f"hint: they are listed by: {shlex.join(['rtcscope', 'streams', file])}")
        if "stream" in params:
            lines.append(f"hint: e.g. {shlex.join(['rtcscope', *args, '--stream', '1'])}")
        return "\n".join(lines)
    candidates = [
        params[name] for name in (exc.param, *PARAM_ALIASES.get(exc.param, ())) if name in params
    ]
    # of several options that may carry the value, the one the user typed
    typed = [p for p in candidates if any(o in rest for o in getattr(p, "opts", ()))]
    chosen = (typed or candidates or [None])[0]
    if chosen is None:
        return f"rtcscope: {exc}"
    flag = _hint(chosen)
    return f"rtcscope: Invalid value for '{flag}': {exc}\nTry '{path} --help' for help."


# The codec a hint names for a dynamic payload type without rtpmap: the most common one of
# today's calls (WebRTC, most SBCs). The hint says it is an example.
EXAMPLE_CODEC = "opus/48000/2"


def describe_error(exc: RtcscopeError, args: list[str]) -> str:
    """The lines to print for ``exc`` raised while running ``rtcscope ARGS`` (never raises:
    when the command cannot be looked at, the error's own words)."""
    try:
        return _describe(exc, args)
    except Exception:
        return f"rtcscope: {exc}"


def _describe(exc: RtcscopeError, args: list[str]) -> str:
    if isinstance(exc, InvalidArgument):
        return describe_invalid_argument(exc, args)
    text = f"rtcscope: {exc}"
    command, _, _ = _command(args)
    params = {p.name for p in getattr(command, "params", [])}
    if isinstance(exc, SrtpError) and "srtp_key" in params and "--srtp-key" not in args:
        text += "\nhint: give the key with --srtp-key KEY (base64, as after a=crypto's inline:)"
    if isinstance(exc, EncryptedPayload) and "force" in params:
        text += "\nhint: --force decodes the encrypted payloads as they are (noise without the key)"
    if isinstance(exc, UnknownPayloadType) and "codec" in params and "--codec" not in args:
        again = shlex.join(["rtcscope", *args, "--codec", EXAMPLE_CODEC])
        text += (
            f"\nhint: name the codec of payload type {exc.payload_type} "
            f"({EXAMPLE_CODEC} is an example: use the call's): {again}"
        )
    return text
