"""Ladder (sequence) diagrams of a call: one column per node, one row per message.

A :class:`Ladder` is plain data (columns with the addresses each node used, rows with who
sent what to whom and when); the renderers here only format it:

- :func:`format_text`: fixed-width text for a terminal, ANSI colours when asked for
  (requests, 1xx, 2xx, 3xx-6xx, retransmissions, RTP and ICMP each their own colour);
- :func:`format_svg`: an SVG 1.1 document (one ``<line class="lifeline">`` per column);
- :func:`format_html`: a standalone page with the SVG and a table of the rows;
- :func:`format_mermaid`: a Mermaid ``sequenceDiagram`` to paste into a ticket or wiki;
- :func:`ladder_to_dict`: JSON-able data with stable keys.

Every text that comes from a packet is escaped for its format (XML/HTML entities, Mermaid's
``#...;`` codes) and cut to a bounded length: a capture is untrusted input.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MAX_LABEL = 80


@dataclass(frozen=True, slots=True)
class LadderColumn:
    name: str
    addresses: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LadderRow:
    """One arrow: ``kind`` is sip, rtp or icmp; ``src``/``dst`` index :attr:`Ladder.columns`."""

    kind: str
    frame: int
    ts_ns: int
    src: int
    dst: int
    label: str
    detail: str = ""  # src addr:port -> dst addr:port, transport, ...
    resent_of: int = 0  # frame this one retransmits (0: not a retransmission)
    status: int | None = None  # for a response
    has_sdp: bool = False


@dataclass(slots=True)
class Ladder:
    title: str
    columns: list[LadderColumn]
    rows: list[LadderRow]
    start_ns: int = 0
    notes: list[str] = field(default_factory=list)

    def rel_s(self, row: LadderRow) -> float:
        return (row.ts_ns - self.start_ns) / 1e9


def _printable(text: str) -> str:
    """Control characters, surrogates and other unprintables become '?' (XML 1.0 2.2
    forbids most of them; a terminal would act on escape sequences)."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def message_text(raw: bytes, limit: int | None = None) -> str:
    """A captured SIP message as text to show: UTF-8 (bad bytes replaced), CRLF as newlines,
    other control characters as '?', cut after ``limit`` characters with a note."""
    text = raw.decode("utf-8", "replace").replace("\r\n", "\n")
    text = "".join(ch if ch.isprintable() or ch in "\n\t" else "?" for ch in text)
    if limit is not None and len(text) > limit:
        text = text[:limit] + f"\n... ({len(text) - limit} more characters)"
    return text


def _clip(text: str, limit: int = MAX_LABEL) -> str:
    text = _printable(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _category(row: LadderRow) -> str:
    if row.kind != "sip":
        return row.kind
    if row.resent_of:
        return "resent"
    if row.status is None:
        return "request"
    if row.status < 200:
        return "provisional"
    if row.status < 300:
        return "success"
    return "failure"


def ladder_to_dict(ladder: Ladder) -> dict[str, Any]:
    """Stable keys: title, nodes (name, addresses), rows (kind, frame, time_s, from, to,
    label, detail, resent, resent_of, status, sdp), notes."""
    return {
        "title": ladder.title,
        "nodes": [{"name": c.name, "addresses": list(c.addresses)} for c in ladder.columns],
        "rows": [
            {
                "kind": r.kind,
                "frame": r.frame,
                "time_s": round(ladder.rel_s(r), 6),
                "from": ladder.columns[r.src].name,
                "to": ladder.columns[r.dst].name,
                "label": r.label,
                "detail": r.detail,
                "resent": bool(r.resent_of),
                "resent_of": r.resent_of or None,
                "status": r.status,
                "sdp": r.has_sdp,
            }
            for r in ladder.rows
        ],
        "notes": list(ladder.notes),
    }


# -- text ---------------------------------------------------------------------------------------

_ANSI = {
    "request": "\x1b[1;36m",
    "provisional": "\x1b[33m",
    "success": "\x1b[1;32m",
    "failure": "\x1b[1;31m",
    "resent": "\x1b[2;35m",
    "rtp": "\x1b[34m",
    "icmp": "\x1b[1;41;37m",
}
_RESET = "\x1b[0m"


def format_text(ladder: Ladder, *, color: bool = False, width: int = 22) -> str:
    """The ladder as fixed-width text: a header per column, then one arrow line per row."""
    columns = ladder.columns
    col_w = max(width, *(min(len(c.name), 30) + 2 for c in columns)) if columns else width
    lead = 22  # "  12.345678  #1234  "
    centres = [lead + col_w // 2 + i * col_w for i in range(len(columns))]
    total = lead + col_w * len(columns)
    lines = [_clip(ladder.title, 200), ""]
    header = " " * lead + "".join(_clip(c.name, col_w - 2).center(col_w) for c in columns)
    lines.append(header.rstrip())
    depth = max((len(c.addresses) for c in columns), default=0)
    for i in range(depth):
        parts = []
        for c in columns:
            text = c.addresses[i] if i < len(c.addresses) and len(c.addresses) > 1 else ""
            parts.append(_clip(text, col_w - 2).center(col_w))
        line = " " * lead + "".join(parts)
        if line.strip():
            lines.append(line.rstrip())
    blank = [" "] * total
    for x in centres:
        blank[x] = "|"
    lines.append("".join(blank).rstrip())
    for row in ladder.rows:
        cells = list(blank)
        prefix = f"{ladder.rel_s(row):11.6f}  #{row.frame:<6d}"
        for i, ch in enumerate(prefix[:lead]):
            cells[i] = ch
        a, b = centres[row.src], centres[row.dst]
        label = row.label + (" (resent)" if row.resent_of else "")
        if a == b:
            text = f"<{_clip(label)}>"
            start = max(a + 1, 0)
            for i, ch in enumerate(text[: total - start]):
                cells[start + i] = ch
        else:
            lo, hi = min(a, b), max(a, b)
            dash = "." if row.resent_of else ("~" if row.kind == "rtp" else "-")
            for x in range(lo + 1, hi):
                cells[x] = dash
            if b > a:
                cells[hi - 1] = ">"
            else:
                cells[lo + 1] = "<"
            room = hi - lo - 3
            text = _clip(label, max(room, 4))
            start = lo + 2 + max(0, (room - len(text)) // 2)
            for i, ch in enumerate(text):
                if start + i < hi - 1:
                    cells[start + i] = ch
        line = "".join(cells).rstrip()
        if color:
            line = _ANSI[_category(row)] + line + _RESET
        lines.append(line)
    lines += [f"note: {_clip(n, 200)}" for n in ladder.notes]
    return "\n".join(lines) + "\n"


# -- SVG ----------------------------------------------------------------------------------------

_SVG_COLORS = {
    "request": "#1f5fa8",
    "provisional": "#a86b00",
    "success": "#1b7a2e",
    "failure": "#b3261e",
    "resent": "#8a5ca8",
    "rtp": "#4a6d8c",
    "icmp": "#d0006f",
}
_COL_W = 200
_ROW_H = 28
_LEFT = 130
_TOP = 30


def _esc(text: str) -> str:
    return html.escape(_printable(text), quote=True)


def format_svg(ladder: Ladder, href: Callable[[LadderRow], str | None] | None = None) -> str:
    """An SVG document: column headers with addresses, lifelines, one arrow per row.

    ``href`` gives a row's link target (the report links each arrow to its message)."""
    n = len(ladder.columns)
    depth = max((len(c.addresses) for c in ladder.columns), default=0)
    head_h = 24 + 14 * depth + 10
    width = _LEFT + _COL_W * max(n, 1) + 20
    height = _TOP + head_h + _ROW_H * (len(ladder.rows) + 1) + 14 * len(ladder.notes) + 20
    xs = [_LEFT + _COL_W * i + _COL_W // 2 for i in range(n)]
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" font-family="monospace" '
        'font-size="12">',
        f"<title>{_esc(_clip(ladder.title, 200))}</title>",
        "<defs>",
    ]
    for name, colour in _SVG_COLORS.items():
        out.append(
            f'<marker id="arrow-{name}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
            f'markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
            f'fill="{colour}"/></marker>'
        )
    out.append("</defs>")
    out.append(f'<rect width="{width}" height="{height}" fill="#ffffff"/>')
    out.append(f'<text x="10" y="18" font-weight="bold">{_esc(_clip(ladder.title, 120))}</text>')
    top_rows = _TOP + head_h
    bottom = top_rows + _ROW_H * (len(ladder.rows) + 1)
    for x, column in zip(xs, ladder.columns, strict=True):
        out.append(f'<g class="node" data-name="{_esc(column.name)}">')
        out.append(
            f'<rect x="{x - _COL_W // 2 + 8}" y="{_TOP}" width="{_COL_W - 16}" '
            f'height="{head_h - 6}" rx="4" fill="#eef2f7" stroke="#5b6b7f"/>'
        )
        out.append(
            f'<text x="{x}" y="{_TOP + 16}" text-anchor="middle" font-weight="bold">'
            f"{_esc(_clip(column.name, 26))}</text>"
        )
        for i, address in enumerate(column.addresses):
            out.append(
                f'<text x="{x}" y="{_TOP + 30 + 14 * i}" text-anchor="middle" font-size="10">'
                f"{_esc(_clip(address, 32))}</text>"
            )
        out.append(
            f'<line class="lifeline" x1="{x}" y1="{top_rows - 6}" x2="{x}" y2="{bottom}" '
            'stroke="#9aa5b1" stroke-dasharray="4 3"/>'
        )
        out.append("</g>")
    for i, row in enumerate(ladder.rows):
        y = top_rows + _ROW_H * (i + 1)
        category = _category(row)
        colour = _SVG_COLORS[category]
        x1, x2 = xs[row.src], xs[row.dst]
        # about 7 px per character at 12 px monospace: keep the label between its lifelines
        fit = max(24, abs(x2 - x1) // 7 - 2)
        label = _clip(row.label + (" (resent)" if row.resent_of else ""), min(fit, MAX_LABEL))
        target = href(row) if href is not None else None
        if target:
            out.append(f'<a href="{_esc(target)}">')
        out.append(f'<g class="row {category}" data-frame="{row.frame}">')
        out.append(
            f'<text x="6" y="{y + 4}" font-size="10" fill="#555">'
            f"{ladder.rel_s(row):.3f} #{row.frame}</text>"
        )
        dash = ' stroke-dasharray="6 4"' if row.resent_of or row.kind == "rtp" else ""
        if x1 == x2:
            out.append(
                f'<path d="M{x1},{y - 6} h30 v12 h-30" fill="none" stroke="{colour}"'
                f'{dash} marker-end="url(#arrow-{category})"/>'
            )
            out.append(f'<text x="{x1 + 36}" y="{y + 4}" fill="{colour}">{_esc(label)}</text>')
        else:
            out.append(
                f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="{colour}" '
                f'stroke-width="1.5"{dash} marker-end="url(#arrow-{category})"/>'
            )
            out.append(
                f'<text x="{(x1 + x2) // 2}" y="{y - 4}" text-anchor="middle" '
                f'fill="{colour}">{_esc(label)}</text>'
            )
        if row.detail:
            out.append(f"<title>{_esc(_clip(row.detail, 200))}</title>")
        out.append("</g>")
        if target:
            out.append("</a>")
    for i, note in enumerate(ladder.notes):
        out.append(
            f'<text x="10" y="{bottom + 16 + 14 * i}" font-size="11">{_esc(_clip(note, 160))}'
            "</text>"
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def format_html(ladder: Ladder) -> str:
    """A standalone HTML page: the SVG ladder, then a table of every row."""
    svg = format_svg(ladder).split("\n", 1)[1]  # drop the XML declaration inside HTML
    rows = []
    for row in ladder.rows:
        rows.append(
            "<tr class='{cat}'><td>{t:.6f}</td><td>{f}</td><td>{src}</td><td>{dst}</td>"
            "<td>{label}</td><td>{detail}</td></tr>".format(
                cat=_category(row),
                t=ladder.rel_s(row),
                f=row.frame,
                src=_esc(ladder.columns[row.src].name),
                dst=_esc(ladder.columns[row.dst].name),
                label=_esc(_clip(row.label + (" (resent)" if row.resent_of else ""))),
                detail=_esc(_clip(row.detail, 200)),
            )
        )
    title = _esc(_clip(ladder.title, 200))
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{title}</title><style>body{{font-family:sans-serif}}"
        "table{border-collapse:collapse;font-family:monospace;font-size:12px}"
        "td,th{border:1px solid #ccc;padding:2px 6px}.resent{color:#8a5ca8}"
        ".failure{color:#b3261e}.success{color:#1b7a2e}.icmp{color:#d0006f}</style></head>"
        f"<body><h1>{title}</h1>\n{svg}<table><tr><th>time (s)</th><th>frame</th>"
        "<th>from</th><th>to</th><th>message</th><th>detail</th></tr>\n"
        + "\n".join(rows)
        + "\n</table>"
        + "".join(f"<p>{_esc(_clip(n, 200))}</p>" for n in ladder.notes)
        + "</body></html>\n"
    )


# -- Mermaid ------------------------------------------------------------------------------------


def _mermaid_text(text: str) -> str:
    """Mermaid labels end at a newline and treat ``;``, ``#`` and ``:`` specially: write them
    (and anything outside printable ASCII) as Mermaid's ``#code;`` entities."""
    out = []
    for ch in _clip(text):
        if ch.isascii() and ch.isprintable() and ch not in "#;:<>\"'`{}%":
            out.append(ch)
        else:
            out.append(f"#{ord(ch)};")
    return "".join(out)


def format_mermaid(ladder: Ladder) -> str:
    """A Mermaid ``sequenceDiagram``; retransmissions drawn dotted, RTP/ICMP as notes+arrows."""
    ids = [f"n{i}" for i in range(len(ladder.columns))]
    lines = ["sequenceDiagram"]
    for pid, column in zip(ids, ladder.columns, strict=True):
        alias = column.name
        if len(column.addresses) > 1 or (column.addresses and column.addresses[0] != alias):
            alias += " (" + ", ".join(column.addresses) + ")"
        lines.append(f"    participant {pid} as {_mermaid_text(alias)}")
    for row in ladder.rows:
        arrow = "-->>" if row.resent_of or row.kind == "rtp" else "->>"
        if row.kind == "icmp":
            arrow = "-x"
        label = f"{ladder.rel_s(row):.3f} {row.label}" + (" (resent)" if row.resent_of else "")
        lines.append(f"    {ids[row.src]}{arrow}{ids[row.dst]}: {_mermaid_text(label)}")
    for note in ladder.notes:
        lines.append(f"    Note over {ids[0]}: {_mermaid_text(note)}" if ids else "")
    return "\n".join(lines) + "\n"


FORMATTERS = {
    "svg": format_svg,
    "html": format_html,
    "mermaid": format_mermaid,
}
