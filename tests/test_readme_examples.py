"""The README works from the repository alone: every example command reads files that are
in the repository (captures in tests/data, the sample config in examples/), nothing from
``../shared``; the sample hepipe config is shipped, shown as it is, and loads; the install
lines are there.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from rtcscope.hepipe.config import load_config

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
INPUT_SUFFIXES = (".pcap", ".pcapng", ".pcap.gz", ".toml", ".json", ".yaml", ".wav", ".al")
OUTPUT_OPTIONS = {"-o", "--out", "--output", "--store", "--export", "--to-pcap"}
SHELL_WORDS = {"|", "||", "&&", ";", "&", ">", "2>", "<"}


def _example_commands() -> list[list[str]]:
    """Every ``$ command`` line of the README's code blocks, split as a shell would, up to
    the first pipe, redirection or comment."""
    commands = []
    for line in README.splitlines():
        if not line.startswith("$ "):
            continue
        try:
            words = shlex.split(line[2:], comments=True)
        except ValueError:
            words = line[2:].split()
        cut = next((i for i, w in enumerate(words) if w in SHELL_WORDS), len(words))
        commands.append(words[:cut])
    return commands


def _inputs(words: list[str]) -> list[str]:
    """The words of a command that name a file it reads (not what it writes)."""
    found = []
    for before, word in zip(["", *words], words, strict=False):
        if before in OUTPUT_OPTIONS or word.startswith(("/", "-", "$")):
            continue
        if word.startswith(("tests/", "examples/", "../")) or word.endswith(INPUT_SUFFIXES):
            found.append(word)
    return found


def test_examples_exist() -> None:
    commands = [c for c in _example_commands() if c and c[0] in ("rtcscope", "cat", "sipp")]
    assert len(commands) > 30
    # A file an example writes first with the project's own generator (Path('x.pcap') or
    # Path("x.pcap") inside a single-quoted shell argument).
    made = set(re.findall(r"""Path\(['"]([^'"]+)['"]\)""", README))
    # ... or with one of the test helpers run as a module (`python -m tests.x IN OUT`).
    made |= {
        word
        for c in _example_commands()
        if c[:2] == ["python", "-m"] and len(c) > 2 and c[2].startswith("tests.")
        for word in c[3:]
        if word.endswith(INPUT_SUFFIXES) and not (ROOT / word).exists()
    }
    missing = sorted(
        {w for c in commands for w in _inputs(c) if not (ROOT / w).exists() and w not in made}
    )
    assert missing == []


def test_no_example_needs_the_shared_folder() -> None:
    shared = [" ".join(c) for c in _example_commands() if any("../shared" in w for w in c)]
    assert shared == []


def test_the_input_check_can_fail() -> None:
    words = shlex.split("rtcscope extract tests/data/nope.pcap -o out.wav")
    assert _inputs(words) == ["tests/data/nope.pcap"]
    assert not (ROOT / _inputs(words)[0]).exists()


def test_the_sample_hepipe_config_is_shipped_shown_and_loads() -> None:
    sample = ROOT / "examples" / "hepipe.toml"
    text = sample.read_text(encoding="utf-8")
    shown = re.search(r"\$ cat examples/hepipe.toml\n(.*?)```", README, re.S)
    assert shown is not None, "the README shows examples/hepipe.toml"
    assert shown.group(1) == text
    config = load_config(sample)
    assert (config.esl_port, config.hep_port, config.hep_transport) == (8021, 9060, "udp")


def test_install_without_make_is_documented() -> None:
    assert "pip install ." in README
    assert "pipx install ." in README
    assert "make demo" in README


def _command_names() -> list[str]:
    """Every command and subcommand the CLI has, as typed: ``info``, ``hep send``, ..."""
    import importlib

    import typer

    from rtcscope.cli.app import app
    from rtcscope.cli.commands import COMMANDS

    for module in set(COMMANDS.values()):
        importlib.import_module(module)
    root = typer.main.get_command(app)
    names = []
    for name in COMMANDS:
        # a group (hep, sipp, dockerfile) has subcommands; typer's click is its own copy
        subcommands = getattr(getattr(root, "commands", {})[name], "commands", None)
        if subcommands:
            names.extend(f"{name} {sub}" for sub in subcommands)
        else:
            names.append(name)
    return names


def test_every_command_has_an_example() -> None:
    """Every command (each subcommand of a group too) is run in a README example."""
    lines = [line.strip() for line in README.splitlines()]
    shown = {
        name
        for name in _command_names()
        if any(re.match(rf"\$ (\w+=\S+ )*rtcscope {name}( |$)", line) for line in lines)
    }
    assert sorted(set(_command_names()) - shown) == []
    assert len(shown) > 20


def test_the_command_table_lists_every_command() -> None:
    """The table under "## Commands" has one row per command, with its summary."""
    from rtcscope.cli.commands import COMMANDS, SUMMARIES

    table = re.search(r"\| command \| what it does \|\n\|[-| ]+\|\n((?:\|.*\n)+)", README)
    assert table is not None
    rows = {row.split("|")[1].strip(" `") for row in table.group(1).splitlines()}
    assert rows == set(COMMANDS)
    for name in COMMANDS:
        assert SUMMARIES[name] in table.group(1)
