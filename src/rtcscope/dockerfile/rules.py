"""The checks: each looks at the parsed Dockerfile and returns findings with their evidence.

What a RUN does with apt-get, pip and rm is read once per RUN (``RunFacts``); the checks
walk the instructions stage by stage, because package lists written by one RUN are seen by
the next RUN of the same stage and of the stages built FROM it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from rtcscope.dockerfile.catalogue import RULES, Severity
from rtcscope.dockerfile.edits import (
    Edit,
    append_cleanup,
    insert_after_subcommand,
    merge_update_into_next,
    package_span_edit,
    sort_key,
)
from rtcscope.dockerfile.parse import Dockerfile, Instruction, Script, run_script
from rtcscope.dockerfile.shell import Command, Word

APT_TOOLS = ("apt-get", "apt")
# apt-get options that take the next word as their value (apt-get(8)).
_VALUE_OPTIONS = frozenset(
    {
        "-o",
        "-c",
        "-t",
        "-a",
        "--option",
        "--config-file",
        "--target-release",
        "--default-release",
        "--host-architecture",
    }
)
_PROMPTING = frozenset(
    {
        "install",
        "upgrade",
        "dist-upgrade",
        "full-upgrade",
        "remove",
        "purge",
        "autoremove",
        "build-dep",
        "reinstall",
    }
)
_UPGRADES = frozenset({"upgrade", "dist-upgrade", "full-upgrade"})
ARCHIVE_SUFFIXES = (
    ".tar",
    ".Z",
    ".bz2",
    ".gz",
    ".lz",
    ".lzma",
    ".tZ",
    ".tb2",
    ".tbz",
    ".tbz2",
    ".tgz",
    ".tlz",
    ".tpz",
    ".txz",
    ".xz",
)
LISTS = "/var/lib/apt/lists"


@dataclass(frozen=True, slots=True)
class Finding:
    """One finding. ``edits`` is empty when the finding has no safe automatic fix."""

    code: str
    level: Severity
    message: str
    line: int
    column: int = 1
    end_line: int | None = None
    source: str = "rtcscope"
    edits: tuple[Edit, ...] = ()

    @property
    def fixable(self) -> bool:
        return bool(self.edits)


@dataclass(slots=True)
class AptCall:
    command: Command
    tool: str
    subcommand: str | None = None
    subcommand_word: Word | None = None
    options: list[Word] = field(default_factory=list)
    option_values: list[Word] = field(default_factory=list)
    packages: list[Word] = field(default_factory=list)

    @property
    def yes(self) -> bool:
        """``-y``/``--yes``/``--assume-yes``, a short cluster holding y, or quiet level 2
        (``-qq``, ``-q -q``, ``-q=2``), which apt-get(8) says implies -y."""
        quiet = 0
        for w in self.options:
            t = w.text
            if t in ("--yes", "--assume-yes", "--force-yes", "-q=2", "--quiet=2"):
                return True
            if t == "--quiet":
                quiet += 1
            elif t.startswith("-") and not t.startswith("--"):
                if "y" in t[1:]:
                    return True
                quiet += t[1:].count("q")
        values = " ".join(v.text for v in self.option_values)
        return quiet >= 2 or "Assume-Yes=true" in values

    @property
    def no_recommends(self) -> bool:
        values = [v.text for v in self.option_values]
        return any(w.text == "--no-install-recommends" for w in self.options) or any(
            v.replace("'", "") in ("APT::Install-Recommends=false", "APT::Install-Recommends=0")
            for v in values
        )


def parse_apt(command: Command) -> AptCall | None:
    """An apt-get/apt command line split into options, subcommand and packages."""
    if command.name not in APT_TOOLS:
        return None
    call = AptCall(command, command.name)
    args = command.args
    i = 0
    while i < len(args):
        w = args[i]
        if w.text.startswith("-"):
            call.options.append(w)
            if w.text in _VALUE_OPTIONS and i + 1 < len(args):
                call.option_values.append(args[i + 1])
                i += 1
            elif w.text.startswith(("-o", "--option=")) and len(w.text) > 2:
                call.option_values.append(w)
        elif call.subcommand is None:
            if w.literal:
                call.subcommand, call.subcommand_word = w.text, w
        else:
            call.packages.append(w)
        i += 1
    return call


def package_name(word: Word) -> str:
    """``pkg=1.2`` / ``pkg:amd64`` / ``pkg/bookworm`` -> ``pkg``."""
    if word.text.startswith((".", "/")):
        return word.text  # a local .deb file
    return re.split(r"[=:/]", word.text, maxsplit=1)[0]


def _removes_lists(command: Command) -> bool:
    if command.name != "rm":
        return False
    recursive = any(
        w.text.startswith("-") and not w.text.startswith("--") and ("r" in w.text or "R" in w.text)
        for w in command.args
    ) or any(w.text == "--recursive" for w in command.args)
    return recursive and any(w.text.startswith(LISTS) for w in command.args)


def _cache_mounts(flags: Iterable[str]) -> set[str]:
    targets: set[str] = set()
    for flag in flags:
        if flag.startswith("--mount=") and ("type=cache" in flag or "type=tmpfs" in flag):
            m = re.search(r"(?:target|dst|destination)=([^,]+)", flag)
            if m:
                targets.add(m.group(1).rstrip("/"))
    return targets


@dataclass(slots=True)
class RunFacts:
    ins: Instruction
    script: Script | None
    apt: list[AptCall]
    update_index: int | None  # index in ``apt`` of the first update
    removes_lists: bool
    lists_cached: bool
    pip_installs: list[Command]

    @property
    def installs(self) -> list[AptCall]:
        return [c for c in self.apt if c.subcommand == "install"]

    @property
    def updates(self) -> bool:
        return self.update_index is not None

    @property
    def update_only(self) -> bool:
        """Every command of the RUN is an ``apt-get update``."""
        s = self.script
        return bool(
            s
            and s.commands
            and all(
                (c := parse_apt(cmd)) is not None and c.subcommand == "update" for cmd in s.commands
            )
        )


def run_facts(df: Dockerfile, ins: Instruction) -> RunFacts:
    script = run_script(df, ins)
    commands = script.commands if script else []
    apt = [c for c in (parse_apt(cmd) for cmd in commands) if c is not None]
    update_index = next((i for i, c in enumerate(apt) if c.subcommand == "update"), None)
    mounts = _cache_mounts(ins.flags)
    return RunFacts(
        ins=ins,
        script=script,
        apt=apt,
        update_index=update_index,
        removes_lists=any(_removes_lists(c) for c in commands),
        lists_cached=LISTS in mounts or {"/var/lib/apt", "/var/cache/apt"} <= mounts,
        pip_installs=[c for c in commands if _is_pip_install(c)],
    )


def _is_pip_install(command: Command) -> bool:
    name = command.name.rsplit("/", 1)[-1]
    texts = [w.text for w in command.args]
    if name.startswith("pip") and not name.startswith(("pipenv", "pipx")):
        return "install" in texts
    if name.startswith("python") and texts[:2] == ["-m", "pip"]:
        return "install" in texts
    return False


def _shipped_stages(df: Dockerfile) -> set[int]:
    """The last stage and every stage another stage is built FROM (their layers ship)."""
    shipped = {len(df.stages) - 1}
    shipped.update(s.parent for s in df.stages if s.parent is not None)
    return shipped


def _finding(
    code: str,
    line: int,
    detail: str = "",
    end_line: int | None = None,
    edits: tuple[Edit, ...] = (),
) -> Finding:
    rule = RULES[code]
    message = rule.message + (f": {detail}" if detail else "")
    return Finding(code, rule.severity, message, line, end_line=end_line, edits=edits)


def check(df: Dockerfile) -> list[Finding]:
    """All findings of the catalogue's checks, in line order (before ignores and config)."""
    runs = {i: run_facts(df, ins) for i, ins in enumerate(df.instructions) if ins.kind == "RUN"}
    findings: list[Finding] = []
    findings.extend(_check_update_and_cleanup(df, runs))
    for facts in runs.values():
        findings.extend(_check_apt_calls(df, facts))
        findings.extend(_check_pip(df, facts))
    findings.extend(_check_add(df))
    findings.extend(_check_consecutive_runs(df, runs))
    findings.sort(key=lambda f: (f.line, f.code))
    return findings


def _check_update_and_cleanup(df: Dockerfile, runs: dict[int, RunFacts]) -> Iterator[Finding]:
    shipped = _shipped_stages(df)
    # Line of the last RUN that wrote lists, per stage (inherited by stages built FROM it).
    updated_at: dict[int, int | None] = {}
    for stage in df.stages:
        updated_at[stage.index] = updated_at.get(stage.parent) if stage.parent is not None else None
    for i, ins in enumerate(df.instructions):
        facts = runs.get(i)
        if facts is None:
            continue
        earlier = updated_at.get(ins.stage)
        installs = facts.installs
        update_alone = facts.updates and not any(
            c.subcommand in _PROMPTING | {"source", "download"}
            for c in facts.apt[facts.update_index or 0 :]
        )
        if update_alone:
            yield _finding(
                "DF001",
                ins.start_line,
                end_line=ins.end_line,
                edits=merge_update_into_next(df, runs, i),
            )
        for call in installs:
            before = facts.apt[: facts.apt.index(call)]
            if any(c.subcommand == "update" for c in before) or _only_local_debs(call):
                continue
            detail = (
                f"its lists come from the RUN at line {earlier}, a cached layer"
                if earlier
                else "no update in this stage"
            )
            yield _finding("DF002", ins.start_line, detail, end_line=ins.end_line)
            break
        if (
            facts.updates
            and not facts.removes_lists
            and not facts.lists_cached
            and ins.stage in shipped
        ):
            yield _finding(
                "DF006",
                ins.start_line,
                end_line=ins.end_line,
                # Removing the lists is safe only if no later RUN installs from them.
                edits=()
                if update_alone or _later_run_reads_lists(df, runs, i)
                else append_cleanup(df, facts.script),
            )
        if facts.removes_lists and not facts.updates and earlier is not None:
            yield _finding(
                "DF007", ins.start_line, f"lists written at line {earlier}", end_line=ins.end_line
            )
        if facts.removes_lists:
            updated_at[ins.stage] = None
        elif facts.updates and not facts.lists_cached:
            updated_at[ins.stage] = ins.start_line


def _later_run_reads_lists(df: Dockerfile, runs: dict[int, RunFacts], index: int) -> bool:
    """A later RUN of this stage, or of a stage built FROM it, installs without updating."""
    family = {df.instructions[index].stage}
    for stage in df.stages:
        if stage.parent in family:
            family.add(stage.index)
    for j, facts in runs.items():
        if j <= index or facts.ins.stage not in family:
            continue
        for call in facts.installs:
            if not any(c.subcommand == "update" for c in facts.apt[: facts.apt.index(call)]):
                return True
    return False


def _only_local_debs(call: AptCall) -> bool:
    return bool(call.packages) and all(p.text.endswith(".deb") for p in call.packages)


def _check_apt_calls(df: Dockerfile, facts: RunFacts) -> Iterator[Finding]:
    ins = facts.ins
    script = facts.script
    if script is None:
        return
    apt_uses = [f"apt {c.subcommand or ''}".strip() for c in facts.apt if c.tool == "apt"]
    if apt_uses:
        yield _finding("DF010", ins.start_line, ", ".join(dict.fromkeys(apt_uses)))
    for call in facts.apt:
        line = (
            df.line_of(script.offsets[call.command.words[0].start])
            if script.exact
            else ins.start_line
        )
        if call.subcommand in _UPGRADES:
            yield _finding("DF011", line, f"`{call.tool} {call.subcommand}`")
        if call.subcommand in _PROMPTING and not call.yes:
            yield _finding(
                "DF008",
                ins.start_line,
                f"`{call.tool} {call.subcommand}` at line {line}",
                edits=insert_after_subcommand(script, call, "-y"),
            )
        if call.subcommand != "install":
            continue
        if not call.no_recommends:
            yield _finding(
                "DF009",
                ins.start_line,
                f"line {line}",
                edits=insert_after_subcommand(script, call, "--no-install-recommends"),
            )
        yield from _check_package_list(df, script, call, ins)


def _check_package_list(
    df: Dockerfile, script: Script, call: AptCall, ins: Instruction
) -> Iterator[Finding]:
    packages = call.packages
    edits = package_span_edit(df, script, call)
    lines = [df.line_of(script.offsets[p.start]) for p in packages]
    if len(set(lines)) < len(lines):
        shared = next(ln for ln in lines if lines.count(ln) > 1)
        yield _finding("DF003", shared, f"{lines.count(shared)} on line {shared}", edits=edits)
    names = [p.text for p in packages]
    keys = [sort_key(p) for p in packages]
    if keys != sorted(keys):
        first = next(i for i in range(1, len(keys)) if keys[i] < keys[i - 1])
        yield _finding(
            "DF004", lines[first], f"{names[first]!r} after {names[first - 1]!r}", edits=edits
        )
    seen: dict[str, Word] = {}
    for p, line in zip(packages, lines, strict=True):
        name = package_name(p)
        if name in seen:
            same = seen[name].raw == p.raw
            yield _finding("DF005", line, repr(p.text), edits=edits if same else ())
        else:
            seen[name] = p
    unpinned = [
        p.text for p in packages if not ("=" in p.text or "/" in p.text or p.text.endswith(".deb"))
    ]
    if unpinned and call.tool == "apt-get":
        yield _finding("DF012", ins.start_line, ", ".join(unpinned))


def _check_pip(df: Dockerfile, facts: RunFacts) -> Iterator[Finding]:
    if not facts.pip_installs or facts.script is None:
        return
    if re.search(r"PIP_NO_CACHE_DIR=(1|true|yes|on)", facts.script.text, re.I):
        return
    if _stage_env_sets(df, facts.ins, "PIP_NO_CACHE_DIR"):
        return
    if any(t.endswith(".cache/pip") for t in _cache_mounts(facts.ins.flags)):
        return
    for command in facts.pip_installs:
        if not any(w.text == "--no-cache-dir" for w in command.args):
            yield _finding("DF013", facts.ins.start_line)
            return


def _stage_env_sets(df: Dockerfile, ins: Instruction, name: str) -> bool:
    """An ENV earlier in the stage (or its parents) sets ``name`` to a true value."""
    stages = set()
    s: int | None = ins.stage
    while s is not None and s >= 0:
        stages.add(s)
        s = df.stages[s].parent
    for other in df.instructions:
        if other is ins:
            break
        if other.kind == "ENV" and other.stage in stages:
            text = " ".join(other.args)
            if re.search(rf"\b{name}[= ]+['\"]?(1|true|yes|on)\b", text, re.I):
                return True
    return False


def _check_add(df: Dockerfile) -> Iterator[Finding]:
    """ADD is needed only for URLs and local archives it unpacks (hadolint's list of suffixes)."""
    for ins in df.instructions:
        if ins.kind != "ADD" or ins.heredocs:
            continue
        sources = [s.strip("\"'") for s in ins.args[:-1]]
        if not all(
            s.endswith(ARCHIVE_SUFFIXES) or s.startswith(("http://", "https://")) for s in sources
        ):
            yield _finding("DF014", ins.start_line, end_line=ins.end_line)


def _command_count(facts: RunFacts) -> int:
    """Simple commands in the RUN, those inside ``$(...)`` and backquotes included."""
    if facts.script is None:
        return 1
    count = len(facts.script.commands)
    for command in facts.script.commands:
        for word in [*command.assignments, *command.words]:
            count += len(re.findall(r"\$\((?!\()", word.raw)) + word.raw.count("`") // 2
    return count


def _check_consecutive_runs(df: Dockerfile, runs: dict[int, RunFacts]) -> Iterator[Finding]:
    """hadolint's DL3059: a RUN right after a RUN with the same flags (comments between do
    not count), each of one simple command. hadolint 2.15 asks for "not more than two", but
    it counts every simple command twice (ShellCheck yields it bare and inside its
    redirection wrapper), so two means one; its results on the corpus agree with this."""
    previous: tuple[tuple[str, ...], int] | None = None
    for i, ins in enumerate(df.instructions):
        facts = runs.get(i)
        if facts is None:
            previous = None
            continue
        count = _command_count(facts)
        if previous is not None and previous[0] == ins.flags and count <= 1 and previous[1] <= 1:
            yield _finding("DF015", ins.start_line)
        previous = (ins.flags, count)
