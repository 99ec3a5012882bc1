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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import field, replace
from typing import Any

from rtcscope._dataclass import dataclass
from rtcscope.timebase import iso_time

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
    """Stable keys: title, nodes (name, addresses), rows (kind, frame, time_s, time_iso, from,
    to, label, detail, resent, resent_of, status, sdp), notes."""
    return {
        "title": ladder.title,
        "nodes": [{"name": c.name, "addresses": list(c.addresses)} for c in ladder.columns],
        "rows": [
            {
                "kind": r.kind,
                "frame": r.frame,
                "time_s": round(ladder.rel_s(r), 6),
                "time_iso": iso_time(r.ts_ns),
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
    header = " " * lead + "".join(_clip_middle(c.name, col_w - 2).center(col_w) for c in columns)
    lines.append(header.rstrip())
    depth = max((len(c.addresses) for c in columns), default=0)
    for i in range(depth):
        parts = []
        for c in columns:
            text = c.addresses[i] if i < len(c.addresses) and len(c.addresses) > 1 else ""
            parts.append(_clip_middle(text, col_w - 2).center(col_w))
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


def _clip_middle(text: str, limit: int) -> str:
    """Cut in the middle: two long IPv6 addresses (or names) that share a prefix stay told
    apart by their ends."""
    text = _printable(text)
    if len(text) <= limit:
        return text
    head = (limit - 1) // 2
    tail = limit - 1 - head
    return text[:head] + "…" + text[len(text) - tail :]


@dataclass(frozen=True, slots=True)
class _SvgParts:
    width: int
    head_height: int  # title and column boxes
    body_height: int  # lifelines, rows and notes, from y = head_height
    defs: str
    head: list[str]
    body: list[str]


def _svg_parts(ladder: Ladder, href: Callable[[LadderRow], str | None] | None) -> _SvgParts:
    n = len(ladder.columns)
    depth = max((len(c.addresses) for c in ladder.columns), default=0)
    head_h = 24 + 14 * depth + 10
    width = _LEFT + _COL_W * max(n, 1) + 20
    top_rows = _TOP + head_h
    height = top_rows + _ROW_H * (len(ladder.rows) + 1) + 14 * len(ladder.notes) + 20
    xs = [_LEFT + _COL_W * i + _COL_W // 2 for i in range(n)]
    defs = ["<defs>"]
    for name, colour in _SVG_COLORS.items():
        defs.append(
            f'<marker id="arrow-{name}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
            f'markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
            f'fill="{colour}"/></marker>'
        )
    defs.append("</defs>")
    head = [
        f'<rect width="{width}" height="{top_rows}" fill="#ffffff"/>',
        f'<text x="10" y="18" font-weight="bold">{_esc(_clip(ladder.title, 120))}</text>',
    ]
    bottom = top_rows + _ROW_H * (len(ladder.rows) + 1)
    body = [
        f'<rect y="{top_rows - 6}" width="{width}" height="{height - top_rows + 6}" '
        'fill="#ffffff"/>'
    ]
    for x, column in zip(xs, ladder.columns, strict=True):
        head.append(f'<g class="node" data-name="{_esc(column.name)}">')
        head.append(
            f'<rect x="{x - _COL_W // 2 + 8}" y="{_TOP}" width="{_COL_W - 16}" '
            f'height="{head_h - 6}" rx="4" fill="#eef2f7" stroke="#5b6b7f"/>'
        )
        head.append(
            f'<text x="{x}" y="{_TOP + 16}" text-anchor="middle" font-weight="bold">'
            f"{_esc(_clip_middle(column.name, 26))}<title>{_esc(_clip(column.name, 200))}"
            "</title></text>"
        )
        for i, address in enumerate(column.addresses):
            head.append(
                f'<text x="{x}" y="{_TOP + 30 + 14 * i}" text-anchor="middle" font-size="10">'
                f"{_esc(_clip_middle(address, 32))}</text>"
            )
        head.append("</g>")
        body.append(
            f'<line class="lifeline" x1="{x}" y1="{top_rows - 6}" x2="{x}" y2="{bottom}" '
            'stroke="#9aa5b1" stroke-dasharray="4 3"/>'
        )
    for i, row in enumerate(ladder.rows):
        y = top_rows + _ROW_H * (i + 1)
        category = _category(row)
        colour = _SVG_COLORS[category]
        x1, x2 = xs[row.src], xs[row.dst]
        # about 7 px per character at 12 px monospace; keep 20 px clear at each end for the
        # arrowhead, so a long reason phrase never runs over it
        fit = max(8, (abs(x2 - x1) - 40) // 7)
        label = _clip(row.label + (" (resent)" if row.resent_of else ""), min(fit, MAX_LABEL))
        target = href(row) if href is not None else None
        if target:
            body.append(f'<a href="{_esc(target)}">')
        body.append(f'<g class="row {category}" data-frame="{row.frame}">')
        if target:  # the whole row is the link, not only the 1.5 px line
            body.append(
                f'<rect class="hit" x="0" y="{y - _ROW_H // 2 - 4}" width="{width}" '
                f'height="{_ROW_H}" fill="transparent"/>'
            )
        body.append(
            f'<text x="6" y="{y + 4}" font-size="10" fill="#555">'
            f"{ladder.rel_s(row):.3f} #{row.frame}</text>"
        )
        dash = ' stroke-dasharray="6 4"' if row.resent_of or row.kind == "rtp" else ""
        if x1 == x2:
            body.append(
                f'<path d="M{x1},{y - 6} h30 v12 h-30" fill="none" stroke="{colour}"'
                f'{dash} marker-end="url(#arrow-{category})"/>'
            )
            body.append(f'<text x="{x1 + 36}" y="{y + 4}" fill="{colour}">{_esc(label)}</text>')
        else:
            body.append(
                f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="{colour}" '
                f'stroke-width="1.5"{dash} marker-end="url(#arrow-{category})"/>'
            )
            body.append(
                f'<text x="{(x1 + x2) // 2}" y="{y - 4}" text-anchor="middle" '
                f'fill="{colour}">{_esc(label)}</text>'
            )
        if row.detail:
            body.append(f"<title>{_esc(_clip(row.detail, 200))}</title>")
        body.append("</g>")
        if target:
            body.append("</a>")
    for i, note in enumerate(ladder.notes):
        body.append(
            f'<text x="10" y="{bottom + 16 + 14 * i}" font-size="11">{_esc(_clip(note, 160))}'
            "</text>"
        )
    return _SvgParts(width, top_rows, height - top_rows, "".join(defs), head, body)


def format_svg(ladder: Ladder, href: Callable[[LadderRow], str | None] | None = None) -> str:
    """An SVG document: column headers with addresses, lifelines, one arrow per row.

    ``href`` gives a row's link target (the report links each arrow to its message)."""
    parts = _svg_parts(ladder, href)
    height = parts.head_height + parts.body_height
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{parts.width}" '
        f'height="{height}" viewBox="0 0 {parts.width} {height}" font-family="monospace" '
        'font-size="12">',
        f"<title>{_esc(_clip(ladder.title, 200))}</title>",
        parts.defs,
        *parts.body,
        *parts.head,
        "</svg>",
    ]
    return "\n".join(out) + "\n"


def format_svg_html(ladder: Ladder, href: Callable[[LadderRow], str | None] | None = None) -> str:
    """The ladder for an HTML page: a scrolling box whose column headers stay visible (a
    sticky header SVG above the rows' SVG). Style with :data:`LADDER_CSS`."""
    parts = _svg_parts(ladder, href)
    svg_open = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        'viewBox="0 {y} {w} {h}" font-family="monospace" font-size="12">'
    )
    head = svg_open.format(w=parts.width, h=parts.head_height, y=0) + "".join(parts.head) + "</svg>"
    body = (
        svg_open.format(w=parts.width, h=parts.body_height, y=parts.head_height)
        + f"<title>{_esc(_clip(ladder.title, 200))}</title>"
        + parts.defs
        + "".join(parts.body)
        + "</svg>"
    )
    return (
        f'<div class="ladder"><div class="ladder-head">{head}</div>'
        f'<div class="ladder-body">{body}</div></div>'
    )


LADDER_CSS = (
    ".ladder{overflow:auto;max-height:85vh;border:1px solid #ccd;position:relative}"
    ".ladder-head{position:sticky;top:0;z-index:1;width:max-content}"
    ".ladder svg{display:block}"
)


def collapse_loops(ladder: Ladder, min_repeats: int = 3, max_period: int = 4) -> Ladder:
    """Rows of a request looping (the same message going round the same elements, e.g.
    A->B, B->A, A->B, ...) repeated ``min_repeats`` times or more become one round with a
    count ("INVITE x12") and the frames in its detail."""
    rows = ladder.rows
    out: list[LadderRow] = []
    i = 0
    while i < len(rows):
        collapsed = False
        for period in range(2, max_period + 1):
            first = rows[i : i + period]
            if len(first) < period or len({r.label for r in first}) != 1:
                continue
            if any(r.kind != "sip" or r.resent_of for r in first):
                continue
            if len({(r.src, r.dst) for r in first}) != period:
                continue
            shape = [(r.src, r.dst, r.label) for r in first]
            repeats = 1
            while [
                (r.src, r.dst, r.label)
                for r in rows[i + repeats * period : i + (repeats + 1) * period]
            ] == shape:
                repeats += 1
            if repeats < min_repeats:
                continue
            last = rows[i + repeats * period - 1]
            for r in first:
                out.append(
                    replace(
                        r,
                        label=f"{r.label} \u00d7{repeats}",
                        detail=f"{r.detail}; loop: {repeats} rounds, frames {r.frame}-{last.frame}",
                    )
                )
            i += repeats * period
            collapsed = True
            break
        if not collapsed:
            out.append(rows[i])
            i += 1
    return Ladder(ladder.title, ladder.columns, out, ladder.start_ns, list(ladder.notes))


MESSAGE_CSS = (
    ".msg{margin:.2em 0}.msg>a{font-family:monospace;font-size:12px}"
    ".msg pre{display:none;background:#f6f8fa;border:1px solid #ccd;padding:.5em;"
    "overflow:auto;white-space:pre-wrap;font-size:12px}"
    ".msg:target pre{display:block}.msg:target>a{background:#ffe08a}"
)


def format_messages_html(
    ladder: Ladder, messages: Mapping[int, Sequence[str]], anchor: Callable[[int], str]
) -> str:
    """The messages of a ladder's SIP rows, each hidden until its link (or its arrow) is
    followed: CSS ``:target`` shows it, no script. ``messages`` maps a frame to the texts of
    its messages in order (TCP can carry several in one frame; already made printable,
    :func:`message_text`); ``anchor`` gives a frame's element id (the frame's second message
    gets ``-1`` appended, and so on)."""
    out = []
    used: dict[int, int] = {}
    for row in ladder.rows:
        texts = messages.get(row.frame, ())
        position = used.get(row.frame, 0)
        if row.kind != "sip" or position >= len(texts):
            continue
        used[row.frame] = position + 1
        text = texts[position]
        first = text.split("\n", 1)[0]
        ident = _esc(anchor(row.frame) + (f"-{position}" if position else ""))
        out.append(
            f'<div class="msg" id="{ident}"><a href="#{ident}">#{row.frame} '
            f"{ladder.rel_s(row):.3f} s {_esc(_clip(row.detail, 120))} {_esc(_clip(first, 120))}"
            f"</a><pre>{html.escape(text, quote=False)}</pre></div>"
        )
    return "".join(out)


def messages_by_frame(texts: Sequence[tuple[int, str]]) -> dict[int, list[str]]:
    """(frame, text) pairs in capture order grouped by frame, for :func:`format_html` and
    :func:`format_messages_html`."""
    grouped: dict[int, list[str]] = {}
    for frame, text in texts:
        grouped.setdefault(frame, []).append(text)
    return grouped


def format_html(ladder: Ladder, messages: Mapping[int, Sequence[str]] | None = None) -> str:
    """A standalone HTML page: the ladder (loops collapsed, column headers kept visible while
    scrolling), then a table of every row; with ``messages`` (frame -> texts,
    :func:`messages_by_frame`) a click on an arrow shows that message."""
    shown = collapse_loops(ladder)

    def anchor(frame: int) -> str:
        return f"f{frame}"

    def href(row: LadderRow) -> str | None:
        if messages is None or row.kind != "sip" or row.frame not in messages:
            return None
        return "#" + anchor(row.frame)

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
    listed = (
        "<h2>Messages</h2>" + format_messages_html(ladder, messages, anchor) if messages else ""
    )
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{title}</title><style>body{{font-family:sans-serif}}"
        "table{border-collapse:collapse;font-family:monospace;font-size:12px}"
        "td,th{border:1px solid #ccc;padding:2px 6px}.resent{color:#8a5ca8}"
        f".failure{{color:#b3261e}}.success{{color:#1b7a2e}}.icmp{{color:#d0006f}}{LADDER_CSS}"
        f"{MESSAGE_CSS}</style></head>"
        f"<body><h1>{title}</h1>\n{format_svg_html(shown, href)}<table><tr><th>time (s)</th>"
        "<th>frame</th><th>from</th><th>to</th><th>message</th><th>detail</th></tr>\n"
        + "\n".join(rows)
        + "\n</table>"
        + "".join(f"<p>{_esc(_clip(n, 200))}</p>" for n in ladder.notes)
        + listed
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


FORMATTERS: dict[str, Callable[[Ladder], str]] = {
    "svg": format_svg,
    "html": format_html,
    "mermaid": format_mermaid,
}
