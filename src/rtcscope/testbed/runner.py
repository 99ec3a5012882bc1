"""Run one test-bed scenario on loopback and capture it with tcpdump.

:func:`plan` turns a :class:`~rtcscope.testbed.scenarios.Scenario` into files and command
lines (pure data, so tests can read what would run); :func:`run_plan` starts the processes
through a ``start`` function, waits for the caller and callee to finish, and stops the rest
by PID (SIGTERM, then SIGKILL). ``python -m rtcscope.testbed SCENARIO`` (and
``make testbed SCENARIO=...``) uses :func:`start_process`; the test suite passes
``tests.peers.background`` so every program runs through the peers door.

Every process is bounded in time: sipp gets ``-timeout``, the caller is waited for at most
``scenario.max_seconds``, and everything is stopped when the run ends, whatever happened.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from rtcscope.errors import PeerError
from rtcscope.testbed.scenarios import ADDRESSES, NETWORK, PORT, Scenario


@dataclass(frozen=True, slots=True)
class Command:
    """One process of the run: a role, a program and its arguments."""

    role: str  # "tcpdump", "B", "C", "D", "E" (callee) or "A" (caller)
    program: str
    args: tuple[str, ...]
    max_seconds: float

    @property
    def log_name(self) -> str:
        return f"{self.role}.log"


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything a run needs: files to write and the processes in start order."""

    scenario: Scenario
    workdir: Path
    capture: Path
    files: dict[Path, str]
    capture_command: Command
    proxies: tuple[Command, ...]
    callee: Command
    caller: Command
    refreshed_target: Command | None = None  # A2, when a target refresh moves the caller


# A start function: (program, args, log file, max seconds) -> a context manager yielding the
# running process; leaving the context stops it by PID.
StartFunc = Callable[[str, list[str], Path, float], AbstractContextManager[subprocess.Popen[bytes]]]


def capture_filter() -> str:
    """tcpdump filter: only this test bed's address range, SIP's transports and ICMP errors."""
    return f"net {NETWORK} and (udp or tcp or icmp)"


def plan(scenario: Scenario, workdir: Path, capture: Path) -> Plan:
    """Files and command lines for ``scenario``; paths are made absolute (kamailio needs it)."""
    workdir = workdir.resolve()
    capture = capture.resolve()
    files: dict[Path, str] = {}
    proxies: list[Command] = []
    bound = scenario.max_seconds + 10
    for role, config in scenario.proxy_configs().items():
        cfg = workdir / f"kamailio-{role}.cfg"
        rundir = workdir / f"run-{role}"
        files[cfg] = config
        proxies.append(
            Command(
                role=role,
                program="kamailio",
                args=(
                    "-f",
                    str(cfg),
                    "-DD",
                    "-E",
                    "-P",
                    str(workdir / f"kamailio-{role}.pid"),
                    "-Y",
                    str(rundir),
                    "-m",
                    "32",
                    "-M",
                    "4",
                ),
                max_seconds=bound,
            )
        )
    sipp_common = ("-m", "1", "-t", "u1", "-nostdin")
    sipp_timeout = f"{int(scenario.max_seconds)}s"
    files[workdir / "callee.xml"] = scenario.callee_xml()
    files[workdir / "caller.xml"] = scenario.caller_xml()
    refreshed: Command | None = None
    if scenario.refreshed_target_template:
        files[workdir / "refreshed-target.xml"] = scenario.refreshed_target_xml()
        refreshed = Command(
            role="A2",
            program="sipp",
            args=(
                "-sf",
                str(workdir / "refreshed-target.xml"),
                "-i",
                ADDRESSES["A2"],
                "-p",
                str(PORT),
                *sipp_common,
                "-nd",
                "-timeout",
                sipp_timeout,
                f"{ADDRESSES['B']}:{PORT}",
            ),
            max_seconds=bound,
        )
    callee = Command(
        role="E",
        program="sipp",
        args=(
            "-sf",
            str(workdir / "callee.xml"),
            "-i",
            ADDRESSES["E"],
            "-p",
            str(PORT),
            *sipp_common,
            "-nd",
            "-timeout",
            sipp_timeout,
            f"{ADDRESSES['D']}:{PORT}",
        ),
        max_seconds=bound,
    )
    caller = Command(
        role="A",
        program="sipp",
        args=(
            "-sf",
            str(workdir / "caller.xml"),
            "-i",
            ADDRESSES["A"],
            "-p",
            str(PORT),
            *sipp_common,
            "-nd",
            "-timeout",
            sipp_timeout,
            f"{ADDRESSES['B']}:{PORT}",
        ),
        max_seconds=bound,
    )
    tcpdump = Command(
        role="tcpdump",
        program="tcpdump",
        args=(
            "-i",
            "lo",
            "-n",
            "-U",
            "--immediate-mode",
            "-s",
            "0",
            "-w",
            str(capture),
            capture_filter(),
        ),
        max_seconds=bound + 10,
    )
    return Plan(
        scenario=scenario,
        workdir=workdir,
        capture=capture,
        files=files,
        capture_command=tcpdump,
        proxies=tuple(proxies),
        callee=callee,
        caller=caller,
        refreshed_target=refreshed,
    )


@dataclass(slots=True)
class RunResult:
    """What a run left: the capture, the exit codes of caller and callee, the logs."""

    capture: Path
    caller_exit: int | None
    callee_exit: int | None
    logs: dict[str, Path]
    second_exit: int | None = None  # the refreshed target's sipp (A2), when there is one
    kernel_dropped: int | None = None  # tcpdump's "N packets dropped by kernel" (None: unsaid)

    def log_tail(self, role: str, chars: int = 2000) -> str:
        path = self.logs.get(role)
        return "" if path is None else _tail(path, chars)


def _wait_for_text(
    log: Path, text: str, proc: subprocess.Popen[bytes], seconds: float, count: int = 1
) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if log.exists() and log.read_text("utf-8", "replace").count(text) >= count:
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.05)
    return False


def _wait(proc: subprocess.Popen[bytes], seconds: float) -> int | None:
    try:
        return proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return None


def run_plan(the_plan: Plan, start: StartFunc) -> RunResult:
    """Run the scenario: capture, proxies, callee, caller; stop everything by PID at the end."""
    the_plan.workdir.mkdir(parents=True, exist_ok=True)
    for path, text in the_plan.files.items():
        path.write_text(text, "utf-8")
    for proxy in the_plan.proxies:
        (the_plan.workdir / f"run-{proxy.role}").mkdir(exist_ok=True)
    if the_plan.capture.exists():
        the_plan.capture.unlink()
    logs: dict[str, Path] = {}

    def launch(stack: ExitStack, command: Command) -> subprocess.Popen[bytes]:
        log = the_plan.workdir / command.log_name
        logs[command.role] = log
        return stack.enter_context(
            start(command.program, list(command.args), log, command.max_seconds)
        )

    caller_exit: int | None = None
    callee_exit: int | None = None
    with ExitStack() as stack:
        tcpdump = launch(stack, the_plan.capture_command)
        if not _wait_for_text(logs["tcpdump"], "listening on", tcpdump, 10):
            raise PeerError(f"tcpdump did not start: {_tail(logs['tcpdump'])}")
        proxies = [launch(stack, command) for command in the_plan.proxies]
        for command, proc in zip(the_plan.proxies, proxies, strict=True):
            # kamailio logs this once per UDP socket it has bound (datagrams that arrive
            # before its receivers start wait in the socket buffer).
            udp_sockets = sum(1 for arg in _listen_specs(the_plan, command.role) if arg == "udp")
            _wait_for_text(logs[command.role], "SO_RCVBUF is finally", proc, 10, udp_sockets)
            if proc.poll() is not None:
                raise PeerError(
                    f"kamailio {command.role} exited {proc.returncode}: {_tail(logs[command.role])}"
                )
        time.sleep(0.5)
        callee = launch(stack, the_plan.callee)
        time.sleep(0.3)
        if callee.poll() is not None:
            raise PeerError(f"sipp callee exited {callee.returncode}: {_tail(logs['E'])}")
        second = None
        if the_plan.refreshed_target is not None:
            second = launch(stack, the_plan.refreshed_target)
            time.sleep(0.3)
            if second.poll() is not None:
                raise PeerError(f"sipp A2 exited {second.returncode}: {_tail(logs['A2'])}")
        caller = launch(stack, the_plan.caller)
        caller_exit = _wait(caller, the_plan.caller.max_seconds)
        callee_exit = _wait(callee, the_plan.scenario.callee_wait_s)
        second_exit = _wait(second, 5) if second is not None else None
        # Let the last datagrams (a late 200 OK, the BYE's answer, ICMP) reach the capture.
        time.sleep(0.5)
    # tcpdump says on exit how many packets the kernel dropped: a capture missing packets
    # would make a working call look broken, so the caller can tell.
    dropped = re.search(r"(\d+) packets? dropped by kernel", _tail(logs["tcpdump"], 4000))
    return RunResult(
        capture=the_plan.capture,
        caller_exit=caller_exit,
        callee_exit=callee_exit,
        logs=logs,
        second_exit=second_exit,
        kernel_dropped=int(dropped.group(1)) if dropped else None,
    )


def _listen_specs(the_plan: Plan, role: str) -> list[str]:
    """The protocols of a proxy's listen sockets ("udp", "tcp")."""
    for proxy in the_plan.scenario.proxies:
        if proxy.name == role:
            return [socket.split(":")[0] for socket in proxy.listen]
    return []


def _tail(log: Path, chars: int = 1500) -> str:
    return log.read_text("utf-8", "replace")[-chars:] if log.exists() else ""


@contextmanager
def start_process(
    program: str, args: list[str], log: Path, max_seconds: float
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``program`` in the background with its output in ``log``; stop it by PID on exit."""
    path = shutil.which(program)
    if path is None:
        raise PeerError(f"{program} is not installed (make peers installs the test bed's peers)")
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [path, *args], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        try:
            yield proc
        finally:
            stop_process(proc)


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM by PID, wait up to 5 s, then SIGKILL."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
