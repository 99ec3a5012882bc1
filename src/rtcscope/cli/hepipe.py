"""``rtcscope hepipe [--config FILE] [flags]``: bridge FreeSWITCH's Event Socket to HEP.

Runs until SIGTERM/SIGINT, then prints its counters (stdout) and exits 0; SIGUSR1 prints them
without stopping. Logs (connects, disconnects and why, reconnect delays) go to stderr. A wrong
ESL password or an ACL rejection exits 4 with what to fix.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from rtcscope.cli.app import app
from rtcscope.hepipe.bridge import HepipeBridge
from rtcscope.hepipe.config import HepipeConfig, load_config


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _print_counters(bridge: HepipeBridge, as_json: bool) -> None:
    bridge.refresh_sender_counters()
    if as_json:
        print(json.dumps(bridge.counters.as_dict(), sort_keys=True), flush=True)
    else:
        print(bridge.counters.format(), flush=True)


async def _run(bridge: HepipeBridge, as_json: bool) -> None:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    stopping = False

    def stop() -> None:
        nonlocal stopping
        stopping = True
        task.cancel()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop)
    loop.add_signal_handler(signal.SIGUSR1, _print_counters, bridge, as_json)
    try:
        await bridge.run()
    except asyncio.CancelledError:
        if not stopping:
            raise
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
            with contextlib.suppress(ValueError, RuntimeError):
                loop.remove_signal_handler(signum)
        _print_counters(bridge, as_json)


@app.command()
def hepipe(
    config_file: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="TOML file, or JSON with hepipe.js's hep_config/esl_config"
        ),
    ] = None,
    esl_host: Annotated[str | None, typer.Option(help="Event Socket host")] = None,
    esl_port: Annotated[int | None, typer.Option(help="Event Socket port (8021)")] = None,
    esl_password: Annotated[str | None, typer.Option(help="Event Socket password")] = None,
    esl_user: Annotated[
        str | None, typer.Option(help="userauth user@domain instead of the password alone")
    ] = None,
    hep_host: Annotated[str | None, typer.Option(help="HEP collector host")] = None,
    hep_port: Annotated[int | None, typer.Option(help="HEP collector port (9060)")] = None,
    hep_transport: Annotated[str | None, typer.Option(help="udp or tcp")] = None,
    hep_password: Annotated[str | None, typer.Option(help="HEP auth key")] = None,
    capture_id: Annotated[int | None, typer.Option(help="HEP capture agent id")] = None,
    node_name: Annotated[str | None, typer.Option(help="HEP capture agent name")] = None,
    call_events: Annotated[
        bool | None, typer.Option("--call-events/--no-call-events", help="HEP type 100")
    ] = None,
    rtcp_events: Annotated[
        bool | None, typer.Option("--rtcp-events/--no-rtcp-events", help="HEP type 5")
    ] = None,
    qos_events: Annotated[
        bool | None, typer.Option("--qos-events/--no-qos-events", help="HEP type 34")
    ] = None,
    json_counters: Annotated[
        bool, typer.Option("--json", help="print the counters as one JSON line")
    ] = False,
) -> None:
    """Send FreeSWITCH call events, RTCP reports and per-leg QoS to a HEP collector (Homer)."""
    config = load_config(config_file) if config_file is not None else HepipeConfig()
    config = config.with_overrides(
        esl_host=esl_host,
        esl_port=esl_port,
        esl_password=esl_password,
        esl_user=esl_user,
        hep_host=hep_host,
        hep_port=hep_port,
        hep_transport=hep_transport,
        hep_password=hep_password,
        capture_id=capture_id,
        node_name=node_name,
        call_events=call_events,
        rtcp_events=rtcp_events,
        qos_events=qos_events,
    ).validated()
    bridge = HepipeBridge(config, log=_log)
    asyncio.run(_run(bridge, json_counters))
