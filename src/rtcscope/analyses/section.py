"""What a section of ``rtcscope analyze`` gets and gives."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rtcscope._dataclass import dataclass


@dataclass(frozen=True, slots=True)
class AnalyzeOptions:
    """What the sections may do besides reading the model."""

    out_dir: Path | None = None  # where sections write files (ladders, audio); None: none
    # With -o: ladders and audio for INVITE calls only, and beyond this many calls only for
    # the failed or flagged ones (a busy capture would give tens of thousands of files);
    # all_files writes them for every call and stream.
    max_call_files: int = 200
    all_files: bool = False
    # The report section runs too: the audio section keeps the per-packet arrays of the
    # streams it reads, so the report does not read those packets again (iter_sections).
    report_follows: bool = False


class _Lazy:
    """A section's text or data: the value set, or what its maker gives when first read."""

    def __set_name__(self, owner: type, name: str) -> None:
        self._value, self._maker = f"_{name}", f"_make_{name}"

    def __get__(self, section: object, owner: type | None = None) -> Any:
        maker = getattr(section, self._maker)
        if maker is not None:
            setattr(section, self._value, maker())
            setattr(section, self._maker, None)
        return getattr(section, self._value)

    def __set__(self, section: object, value: Any) -> None:
        setattr(section, self._value, value)
        setattr(section, self._maker, None)


class Section:
    """One analysis' contribution: a titled text block, JSON-able data and written files.

    ``make_text`` / ``make_data`` give the text or the data when first read instead (``analyze``
    prints one or the other: on 20,000 calls the call list's JSON objects nobody prints cost
    as much as its table). ``make_json_data`` gives what ``analyze``'s own JSON writer is
    handed instead of the data (:meth:`json_data`: the same text, not JSON-able data)."""

    __slots__ = (
        "_data",
        "_make_data",
        "_make_json_data",
        "_make_text",
        "_text",
        "files",
        "name",
        "problems",
        "title",
    )

    def __init__(
        self,
        name: str,
        title: str,
        text: str = "",
        data: Any = None,
        files: list[Path] | None = None,
        problems: int = 0,
        *,
        make_text: Callable[[], str] | None = None,
        make_data: Callable[[], Any] | None = None,
        make_json_data: Callable[[], Any] | None = None,
    ) -> None:
        self.name = name
        self.title = title
        self._text, self._make_text = text, make_text
        self._data, self._make_data = data, make_data
        self._make_json_data = make_json_data
        self.files: list[Path] = files if files is not None else []
        self.problems = problems

    text = _Lazy()
    data = _Lazy()

    def json_data(self) -> Any:
        """For rtcscope.cli.output's writer (only): the data, or what ``make_json_data``
        gives where the data was not made (values such as a LazyJson, which only that
        writer writes)."""
        if self._make_json_data is not None and self._make_data is not None:
            return self._make_json_data()
        return self.data

    def __repr__(self) -> str:
        return f"Section(name={self.name!r}, title={self.title!r}, problems={self.problems})"
