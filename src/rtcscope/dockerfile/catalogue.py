"""The rule catalogue: one table of code -> severity, name, message, fix, hadolint twin.

The README's rule list and ``rtcscope dockerfile rules`` are generated from this table; the
checks in ``rules.py`` return evidence, never prose. ``hadolint`` names hadolint's rule for
the same mistake, so one ``# hadolint ignore=DL3008`` silences both linters.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Severity(IntEnum):
    """hadolint's levels, in its order (``--failure-threshold`` compares them)."""

    style = 1
    info = 2
    warning = 3
    error = 4


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    name: str
    severity: Severity
    message: str
    why: str
    fix: str | None
    hadolint: str | None = None
    default: bool = True

    @property
    def anchor(self) -> str:
        """The README heading's anchor: ``DF001 apt-update-alone`` -> ``df001-apt-update-alone``."""
        return f"{self.code.lower()}-{self.name}"

    @property
    def url(self) -> str:
        return f"README.md#{self.anchor}"


_RULES = (
    Rule(
        "DF001",
        "apt-update-alone",
        Severity.warning,
        "`apt-get update` in a RUN that installs nothing: its layer is cached, so a later "
        "install reads stale package lists",
        "Docker caches each RUN by its text. `RUN apt-get update` never changes, so after the "
        "first build its layer (with lists from that day) is reused, and a changed install "
        "line in the next RUN resolves against old indexes: 404s from the mirror, or old "
        "versions. Update and install belong in one RUN (cache busting).",
        "merges it into the next RUN when that RUN installs and joins its commands with `&&`",
    ),
    Rule(
        "DF002",
        "apt-install-without-update",
        Severity.warning,
        "`apt-get install` without `apt-get update` earlier in the same RUN",
        "Package lists come from the base image (usually none) or from an earlier layer, "
        "which the cache keeps as old as the first build: the install fails or installs "
        "stale versions.",
        None,
    ),
    Rule(
        "DF003",
        "packages-one-per-line",
        Severity.style,
        "packages not one per line",
        "One package per line makes a diff show exactly which package came or went, and "
        "makes duplicates visible.",
        "puts the packages one per line",
    ),
    Rule(
        "DF004",
        "packages-sorted",
        Severity.style,
        "packages not sorted",
        "A sorted list shows a duplicate or a conflicting package next to its twin.",
        "sorts the packages",
    ),
    Rule(
        "DF005",
        "packages-duplicated",
        Severity.warning,
        "package listed twice",
        "A package named twice is a merge slip; with two different versions apt-get refuses.",
        "drops the repeated name (only when both are written the same)",
    ),
    Rule(
        "DF006",
        "apt-lists-not-removed",
        Severity.info,
        "package lists (/var/lib/apt/lists) not removed in the RUN that downloads them",
        "`apt-get update` writes tens of MB of lists into the layer; only an "
        "`rm -rf /var/lib/apt/lists/*` in the same RUN keeps them out of the image. "
        "Checked in the stages that ship (the last one and those other stages build FROM).",
        "appends `&& rm -rf /var/lib/apt/lists/*` to the RUN",
        hadolint="DL3009",
    ),
    Rule(
        "DF007",
        "apt-cleanup-later-layer",
        Severity.warning,
        "package lists removed in a later RUN: the earlier layer still holds them",
        "Layers only add: deleting files written by an earlier RUN hides them but the image "
        "keeps their bytes. The clean-up must be in the RUN that ran `apt-get update`.",
        None,
    ),
    Rule(
        "DF008",
        "apt-missing-yes",
        Severity.warning,
        "`apt-get` without `-y`: it asks for confirmation, which a build cannot give",
        "Without `-y` (or `-qq`), apt-get asks `Do you want to continue?`; a build has no "
        "terminal, so it answers no and the RUN fails.",
        "adds `-y` after the subcommand",
        hadolint="DL3014",
    ),
    Rule(
        "DF009",
        "apt-missing-no-install-recommends",
        Severity.info,
        "`apt-get install` without `--no-install-recommends`",
        "Recommended packages are installed by default: often hundreds of MB (X11 for a "
        "command-line tool). Name what you need.",
        "adds `--no-install-recommends` after `install`",
        hadolint="DL3015",
    ),
    Rule(
        "DF010",
        "apt-not-apt-get",
        Severity.warning,
        "`apt` used in a script: its interface is not stable, use `apt-get`",
        "`apt` is meant for people at a terminal and warns that its command-line interface "
        "may change; `apt-get`/`apt-cache` are the scriptable ones.",
        None,
        hadolint="DL3027",
    ),
    Rule(
        "DF011",
        "apt-upgrade",
        Severity.warning,
        "`apt-get upgrade`/`dist-upgrade` in a build: upgrade the base image instead",
        "Upgrading inside the image duplicates the base image's files in a new layer and makes "
        "the build depend on the day it ran; pull a newer base image instead.",
        None,
    ),
    Rule(
        "DF012",
        "apt-version-not-pinned",
        Severity.warning,
        "package version not pinned (`pkg=version`)",
        "Opt-in (`--enable DF012`): a pin makes a build repeatable, but breaks when the mirror "
        "drops that version, which Debian mirrors do at every point release.",
        None,
        hadolint="DL3008",
        default=False,
    ),
    Rule(
        "DF013",
        "pip-cache",
        Severity.warning,
        "`pip install` without `--no-cache-dir`",
        "pip keeps every wheel it downloads in ~/.cache/pip, inside the layer.",
        None,
        hadolint="DL3042",
    ),
    Rule(
        "DF014",
        "add-local-file",
        Severity.error,
        "`ADD` of a local file or folder: `COPY` does the same without surprises",
        "ADD also fetches URLs and unpacks archives; for a plain file COPY says what happens.",
        None,
        hadolint="DL3020",
    ),
    Rule(
        "DF015",
        "consecutive-run",
        Severity.info,
        "consecutive RUN instructions: consider one RUN",
        "Each RUN is a layer. Counted as hadolint 2.15 does: two RUNs in a row with the same "
        "flags, each running a single command.",
        None,
        hadolint="DL3059",
    ),
)

RULES: dict[str, Rule] = {r.code: r for r in _RULES}
BY_HADOLINT: dict[str, Rule] = {r.hadolint: r for r in _RULES if r.hadolint}


def format_rules_markdown() -> str:
    """The README's rule list (one heading per rule, so findings link to ``#anchor``)."""
    out: list[str] = []
    for rule in _RULES:
        out.append(f"#### {rule.code} {rule.name}\n")
        twin = f", hadolint {rule.hadolint}" if rule.hadolint else ""
        opt = ", opt-in" if not rule.default else ""
        out.append(
            f"*{rule.severity.name}{twin}{opt}.* {rule.message[0].upper()}{rule.message[1:]}."
        )
        out.append(f"{rule.why}")
        out.append(f"`--fix` {rule.fix}.\n" if rule.fix else "No automatic fix.\n")
    return "\n".join(out)
