"""The one door through which tests and benches call external programs.

Every program a test runs is named in ``PROGRAM_PACKAGES`` with the Debian package that
provides it; ``tests/test_install_line.py`` checks that each package is in the Makefile's
``APT_PACKAGES`` line (CI machines keep hand-installed packages, which would hide a missing
one) and that no test calls a program some other way.

Peers run on loopback only (127.0.0.0/8), bounded in time, and are stopped by PID.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

PROGRAM_PACKAGES: dict[str, str] = {
    "tshark": "tshark",
    "capinfos": "wireshark-common",
    "editcap": "wireshark-common",
    "mergecap": "wireshark-common",
    "text2pcap": "wireshark-common",
    "tcpdump": "tcpdump",
    "tcprewrite": "tcpreplay",
    "sipp": "sip-tester",
    "kamailio": "kamailio",
    "sngrep": "sngrep",
    "sox": "sox",
    "soxi": "sox",
    "opusinfo": "opus-tools",
    "opusdec": "opus-tools",
    "opusenc": "opus-tools",
    "ffmpeg": "ffmpeg",
    "ffprobe": "ffmpeg",
    "ip": "iproute2",
    "pkill": "procps",
    "bash": "bash",
    "make": "make",
    "buildah": "buildah",
    "debootstrap": "debootstrap",
    "chromium": "chromium",
    "chromedriver": "chromium-driver",
}


def program(name: str) -> str:
    """Absolute path of a peer program; skips the test when absent (fails under CI=true)."""
    if name not in PROGRAM_PACKAGES:
        raise AssertionError(f"{name} is not in tests/peers.py PROGRAM_PACKAGES")
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} (Debian package {PROGRAM_PACKAGES[name]}) is not installed")
        pytest.skip(f"{name} (Debian package {PROGRAM_PACKAGES[name]}) is not installed")
    return path


def run(
    name: str,
    args: Sequence[str | os.PathLike[str]],
    timeout: float = 120,
    check: bool = True,
    input: bytes | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a peer to completion with a time bound; text output."""
    cmd = [program(name), *[os.fspath(a) for a in args]]
    proc = subprocess.run(
        cmd,
        capture_output=True,
        timeout=timeout,
        check=False,
        input=input.decode("latin-1") if input is not None else None,
        text=True,
        cwd=cwd,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} exited {proc.returncode}\nstdout:\n{proc.stdout[-3000:]}\n"
            f"stderr:\n{proc.stderr[-3000:]}"
        )
    return proc


def fresh_python(probe: str, pure: str | None) -> str:
    """What ``python -c probe`` prints in a fresh interpreter with RTCSCOPE_PURE set to
    ``pure`` (unset for None): the C accelerators' roads are chosen at import. bash starts it
    (tests start programs through this module), this interpreter's own executable."""
    setting = "unset RTCSCOPE_PURE" if pure is None else f"export RTCSCOPE_PURE={pure}"
    done = run("bash", ["-c", setting + '; exec "$0" -c "$1"', sys.executable, probe])
    return done.stdout.strip()


def run_bytes(
    name: str, args: Sequence[str | os.PathLike[str]], timeout: float = 120
) -> subprocess.CompletedProcess[bytes]:
    """Run a peer to completion; binary output."""
    cmd = [program(name), *[os.fspath(a) for a in args]]
    return subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)


def tshark_fields(
    capture: str | os.PathLike[str],
    fields: Sequence[str],
    display_filter: str | None = None,
    extra: Sequence[str] = (),
) -> list[list[str]]:
    """``tshark -T fields`` rows (tab separated, one list per frame)."""
    args: list[str | os.PathLike[str]] = ["-n", "-r", capture, *extra, "-T", "fields"]
    if display_filter:
        args += ["-Y", display_filter]
    for f in fields:
        args += ["-e", f]
    args += ["-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=,"]
    out = run("tshark", args).stdout
    return [line.split("\t") for line in out.splitlines()]


@contextmanager
def background(
    name: str,
    args: Sequence[str | os.PathLike[str]],
    log: Path,
    max_seconds: float = 120,
    cwd: str | os.PathLike[str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a peer in the background, stop it by PID on exit (TERM, then KILL)."""
    cmd = [program(name), *[os.fspath(a) for a in args]]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd
        )
        started = time.monotonic()
        try:
            yield proc
        finally:
            stop(proc, deadline=started + max_seconds)


def stop(proc: subprocess.Popen[bytes], deadline: float | None = None) -> None:
    """Stop a peer by its PID: SIGTERM, wait up to 5 s, then SIGKILL."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def rtcscope_cli(
    args: Sequence[str | os.PathLike[str]],
    timeout: float = 300,
    check: bool = False,
    stdin: bytes | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run our own CLI as a separate process (``python -m rtcscope``), as a user would;
    ``stdin`` is piped to it (else it gets no standard input)."""
    import sys

    cmd = [sys.executable, "-m", "rtcscope", *[os.fspath(a) for a in args]]
    raw = subprocess.run(
        cmd,
        capture_output=True,
        timeout=timeout,
        check=False,
        input=stdin if stdin is not None else b"",
    )
    proc = subprocess.CompletedProcess(
        raw.args,
        raw.returncode,
        raw.stdout.decode("utf-8", "surrogateescape"),
        raw.stderr.decode("utf-8", "surrogateescape"),
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} exited {proc.returncode}\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc


def rtcscope_piped(args: Sequence[str | os.PathLike[str]]) -> subprocess.Popen[bytes]:
    """Our own CLI as a separate process whose standard output and error the test reads
    (pipes), with no standard input; the caller waits for it."""
    import sys

    cmd = [sys.executable, "-m", "rtcscope", *[os.fspath(a) for a in args]]
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
    )


@contextmanager
def rtcscope_background(
    args: Sequence[str | os.PathLike[str]],
    log: Path,
    *,
    stdout: Path | None = None,
    new_session: bool = False,
    max_open_files: int | None = None,
    pipe_stdin: bool = False,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start our own CLI in the background (e.g. a collector), stopped by PID on exit.

    ``stdout``: a file of its own for standard output (else it goes to ``log`` with stderr);
    ``new_session``: its own process group (a test sends it Ctrl-C with ``os.killpg``);
    ``max_open_files``: its RLIMIT_NOFILE, set in the child only; ``pipe_stdin``: the test
    writes its standard input (``proc.stdin``)."""
    import resource
    import sys

    def limit() -> None:
        if max_open_files is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (max_open_files, max_open_files))

    cmd = [sys.executable, "-m", "rtcscope", *[os.fspath(a) for a in args]]
    with open(log, "wb") as out, open(stdout or os.devnull, "wb") as own_stdout:
        proc = subprocess.Popen(
            cmd,
            stdout=own_stdout if stdout is not None else out,
            stderr=subprocess.STDOUT if stdout is None else out,
            stdin=subprocess.PIPE if pipe_stdin else subprocess.DEVNULL,
            start_new_session=new_session,
            preexec_fn=limit if max_open_files is not None else None,
        )
        try:
            yield proc
        finally:
            stop(proc)
