"""The PDF report: paged A4 landscape, header and footer on every page, "page i of n", the event
table's header repeated on each page, archival PDF/A-1b (Qt's QPdfWriter).

Drawn with QPainter only (QtGui, never QtWidgets): every string is drawn as plain text, so event
data cannot become markup. A QGuiApplication (offscreen platform) is made on demand, so the CLI
renders without a display. Two passes: the first lays the tables out (Qt shapes and wraps each
column's cells in one text layout per 128 rows) and counts the pages, the second draws the lines
it made, with "page i of n". The machine-readable block is a sidecar JSON beside the PDF.
"""

from __future__ import annotations

import math
import os
import re
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from PySide6.QtCore import QMarginsF, QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QGuiApplication,
    QImage,
    QPageLayout,
    QPageSize,
    QPagedPaintDevice,
    QPainter,
    QPaintDevice,
    QPdfWriter,
    QPen,
    QTextLayout,
    QTextLine,
    QTextOption,
)

from explorer.reports import chart
from explorer.reports.html import integrity_rows
from explorer.reports.model import Report, ReportCancelled, ReportEntry

PAGE_W, PAGE_H = 842.0, 595.0  # A4 landscape in points (the writer runs at 72 dpi: 1 unit = 1 pt)
MARGIN = 30.0
HEADER_H, FOOTER_H = 22.0, 20.0
MAX_PDF_EVENTS = 100_000  # ~3,000 pages; beyond this a CSV or JSON report is the readable record
MAX_CELL_LINES = 4
CHUNK_ROWS = 128  # rows of one column laid out as one QTextLayout
# Rows of a table whose lines and shaped glyphs are kept from the counting to the drawing pass
# (~13 KB a row of the event list); later rows keep only their heights and are laid out again when
# drawn (a second layout: ~+20 % time for them), so a 100,000-event PDF needs no gigabyte.
CACHED_ROWS = 10_000
REUSED_TEXTS = 2_000  # distinct texts of a column kept for reuse (types, actors)
DETAILED_STREAMS = 5  # up to this many streams get a start/end table each; more get one row each
PAD = 2.5

_app: QGuiApplication | None = None


def ensure_gui_application() -> None:
    """Fonts and QPdfWriter need a QGuiApplication: make an offscreen one if none exists."""
    global _app
    if QGuiApplication.instance() is None:
        # Nothing is shown: the offscreen platform works with or without a display.
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        _app = QGuiApplication(["event-explorer"])


class _StopDrawing(Exception):
    """Raised to end a preview after its last page."""


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    width: float
    mono: bool = False
    wrap_anywhere: bool = False
    right: bool = False


EVENT_COLUMNS = (
    Column("Position", 38, right=True),
    Column("Recorded at (UTC)", 62, mono=True),
    Column("Occurred at", 56, mono=True),
    Column("Stream", 114, mono=True, wrap_anywhere=True),
    Column("Type", 74, wrap_anywhere=True),
    Column("Actor", 60),
    Column("What happened", 168),
    Column("Changed fields", 210),
)


def _font(family: str, size: float, bold: bool = False) -> QFont:
    font = QFont(family)
    font.setPointSizeF(size)
    font.setBold(bold)
    font.setStyleHint(QFont.StyleHint.Monospace if "Mono" in family else QFont.StyleHint.SansSerif)
    # No ligatures: "ff" in a hex digest must stay two letters when an auditor copies it.
    for tag in ("liga", "clig", "dlig"):
        font.setFeature(QFont.Tag(tag), 0)
    return font


_SEP = "\u2028"  # QChar::LineSeparator: ends a cell's last line inside a column's layout


def _plain(text: str) -> str:
    """A cell's own line breaks as line separators (QPainter.drawText does the same)."""
    return text.replace("\r\n", _SEP).replace("\n", _SEP) if "\n" in text else text


_FSI, _PDI = "\u2068", "\u2069"  # FIRST STRONG ISOLATE, POP DIRECTIONAL ISOLATE
_INITIATORS = "\u2066\u2067\u2068"  # LRI, RLI, FSI
# What can reorder text: every character of bidi class R, AL or AN (the right-to-left scripts'
# blocks, unassigned ones included: they default to R or AL) and the explicit controls (RLM,
# embeddings, overrides, isolates). Checked against unicodedata: no such character is outside.
_BIDI = re.compile("[\u0590-\u08ff\u200f\u202a-\u202e\u2066-\u2069\ufb1d-\ufdff\ufe70-\ufeff"
                   "\U00010800-\U00010fff\U0001e800-\U0001efff]")


def _isolated(text: str) -> str:
    """Text of its own (a cell, a user's value) as a bidi isolate, FSI … PDI.

    Right-to-left text keeps its own order inside (its direction is its first strong letter's,
    as if it stood alone) and cannot reorder what is around it: the next cell of a column laid out
    in the same paragraph (U+2028 does not end one), or our numbers beside it. Its own isolates are
    balanced so that our PDI closes only ours: an initiator left open gets its PDI, a PDI with no
    initiator is left out (alone it does nothing). Its embeddings and overrides (U+202A-U+202E)
    end at our PDI. Text with nothing that can reorder (no right-to-left letter, Arabic digit or
    bidi control: ASCII, accents, arrows, CJK, emoji) is left as it is: it reads the same inside an
    isolate or out, and an isolate costs Qt a run of its own to shape.
    """
    if text.isascii() or _BIDI.search(text) is None:
        return text
    if "\u2069" in text or any(c in text for c in _INITIATORS):
        kept, depth = [], 0
        for ch in text:
            if ch in _INITIATORS:
                depth += 1
            elif ch == _PDI:
                if not depth:
                    continue
                depth -= 1
            kept.append(ch)
        text = "".join(kept) + _PDI * depth
    return _FSI + text + _PDI


def _qt_text(text: str) -> tuple[str, int]:
    """The text as Qt will hold it, and its length in Qt's text positions: UTF-16 code units.

    A character outside the BMP (an emoji) is one Python character and two units. Surrogates in a
    Python string are paired up or, alone, become U+FFFD, because Qt would silently join or drop
    them and so shift every later position.
    """
    if text.isascii():
        return text, len(text)
    try:
        return text, len(text.encode("utf-16-le")) // 2
    except UnicodeEncodeError:
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
        return text, len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True, slots=True)
class _Cut:
    """How a cell that does not show all its text is drawn: its lines clipped to the cell (a glyph
    wider than the cell), and, when lines were left out after MAX_CELL_LINES, the last line clipped
    short of an ellipsis drawn after it.

    Attributes:
        clip: the cell's rectangle, relative to the row's top; None when no line is too wide.
        last_clip: the rectangle the last drawn line is cut to; None without an ellipsis.
        ellipsis: the laid-out line "…" (its layout is kept by the table).
        at: where the ellipsis is drawn, relative to the row's top.
    """

    clip: QRectF | None
    last_clip: QRectF | None = None
    ellipsis: Any = None
    at: QPointF | None = None


# A laid-out cell: its lines (QTextLine), the points to draw them at, and how it is cut when it does
# not show all its text. A QTextLine does not keep its QTextLayout alive: the chunk holds the layouts.
_Cell = tuple[list[Any], tuple[QPointF, ...], _Cut | None]


class _LaidTable:
    """A table laid out column by column: CHUNK_ROWS cells of one column share one QTextLayout
    (joined by line separators), so Qt shapes and wraps them in one call, and the lines it made
    are drawn as they are (no second shaping, no second wrapping).

    Attributes:
        count: rows (the header row not included).
        total_w: the table's width.
        head_h: the header row's height (0 without a header).
    """

    def __init__(self, flow: _Flow, columns: Sequence[Column], rows: list[Sequence[str]], *, header: bool,
                 key_bold: bool) -> None:
        total_w = sum(c.width for c in columns)
        scale = flow.width / total_w if total_w > flow.width else 1.0
        widths = [c.width * scale for c in columns]
        self.total_w = sum(widths)
        self.columns = tuple(columns)
        self.header, self.key_bold = header, key_bold
        self._device = flow.device
        lefts, x = [], flow.left
        for w in widths:
            lefts.append(x + PAD)
            x += w
        self._lefts = lefts
        self._inner = [w - 2 * PAD for w in widths]
        self._options, self._anywhere = [], []
        for c in columns:
            option = QTextOption(Qt.AlignRight | Qt.AlignTop if c.right else Qt.AlignLeft | Qt.AlignTop)
            option.setTextDirection(Qt.LayoutDirection.LeftToRight)  # a cell's own direction: its isolate
            option.setWrapMode(QTextOption.WrapMode.WrapAnywhere if c.wrap_anywhere
                               else QTextOption.WrapMode.WordWrap)
            self._options.append(option)
            anywhere = QTextOption(option)
            anywhere.setWrapMode(QTextOption.WrapMode.WrapAnywhere)
            self._anywhere.append(None if c.wrap_anywhere else anywhere)
        self._fonts = [flow.f_small_bold if key_bold and k == 0 else (flow.f_small_mono if c.mono else flow.f_small)
                       for k, c in enumerate(columns)]
        self._bold = [flow.f_small_bold] * len(columns)
        # Qt steps from line to line by the line height rounded up (QTextLine.height()); a cell of
        # n lines is n - 1 such steps and one font height tall (as QFontMetricsF.boundingRect says).
        self._steps = {id(f): (math.ceil(flow.fm(f).height()), flow.fm(f).height())
                       for f in (*self._fonts, flow.f_small_bold)}
        # Where a cell's k-th line goes, relative to its row's top (rows are drawn translated).
        self._points = {(k, id(f)): tuple(QPointF(left, PAD + i * self._steps[id(f)][0]) for i in range(MAX_CELL_LINES))
                        for k, left in enumerate(lefts) for f in {id(f): f for f in (*self._fonts, flow.f_small_bold)}.values()}
        self._rows = rows
        self.count = len(rows)
        # chunk -> (row heights, cells, layouts); (row heights, None, None) between the passes for
        # rows past CACHED_ROWS
        self._chunks: dict[int, tuple[list[float], Any, Any]] = {}
        self._seen: dict[tuple[int, int], dict[str, tuple[list[Any], int, _Cut | None]]] = {}
        self._kept: list[QTextLayout] = []  # the layouts of reused texts: as long as the table
        self._ellipses: dict[int, tuple[QTextLayout, Any, float]] = {}  # font -> "…": layout, line, width
        self._head = self._lay([[c.title for c in columns]], self._bold, cache=True) if header else None
        self.head_h = self._head[0][0] if self._head is not None else 0.0

    def _lay(self, rows: Sequence[Sequence[str]], fonts: list[QFont], *, cache: bool
             ) -> tuple[list[float], list[list[_Cell]], list[QTextLayout]]:
        """Row heights, and per row the lines of each non-empty cell with the points to draw them at
        (relative to the row's top); the layouts that hold those lines."""
        heights = [0.0] * len(rows)
        cells: list[list[_Cell]] = [[] for _ in rows]
        layouts = []
        for k, font in enumerate(fonts):
            texts = [_plain(row[k]) for row in rows]
            distinct = dict.fromkeys(texts)
            distinct.pop("", None)
            # Types and actors repeat from row to row: such a column's texts are laid out once per
            # table (up to REUSED_TEXTS of them), and drawn again from the same lines.
            seen = self._seen.setdefault((k, id(font)), {})
            reuse = len(distinct) * 2 <= len(texts) and len(seen) < REUSED_TEXTS
            todo = [t for t in distinct if t not in seen]
            found: dict[str, tuple[list[Any], int, _Cut | None]] = {}
            if todo:
                # Each cell is a bidi isolate: U+2028 does not end a bidi paragraph, so right-to-left
                # text at a cell's end would otherwise reorder the digits that start the next one.
                qt_texts = [_qt_text(_isolated(t)) for t in todo]
                layout = QTextLayout(_SEP.join(t for t, _ in qt_texts), font, self._device)
                option, anywhere = self._options[k], self._anywhere[k]
                layout.setTextOption(option)
                layout.setCacheEnabled(cache or reuse)  # keep the shaped glyphs for the drawing
                (self._kept if reuse else layouts).append(layout)
                inner = self._inner[k]
                lines, starts, wide = [], [], []
                # A word wider than the cell (a long id or value) is broken where it must: its line
                # is laid out again, wrapping anywhere (a line that overshoots into the cell's
                # padding, e.g. by a glyph's side bearing, is left as it is). What is still wider (one
                # glyph) is cut at the cell's edge.
                limit = inner + PAD
                layout.beginLayout()
                while True:
                    line = layout.createLine()
                    if not line.isValid():
                        break
                    line.setLineWidth(inner)
                    if line.naturalTextWidth() > limit:
                        if anywhere is not None:
                            layout.setTextOption(anywhere)
                            line.setLineWidth(inner)
                            layout.setTextOption(option)
                        if line.naturalTextWidth() > limit:
                            wide.append(len(lines))
                    lines.append(line)
                    starts.append(line.textStart())
                layout.endLayout()
                # Lines are found by their start, in Qt's units: a cell spans its text and the
                # separator after it.
                offset = 0
                for text, (_, units) in zip(todo, qt_texts):
                    first = bisect_left(starts, offset)
                    offset += units + 1
                    count = bisect_left(starts, offset, first) - first
                    cut = None
                    if count > MAX_CELL_LINES:  # a longer cell is cut after its 4th line, with "…"
                        count = MAX_CELL_LINES
                        cut = self._ellipsis_cut(k, font, lines[first + count - 1],
                                                 bool(wide) and any(first <= i < first + count for i in wide))
                    elif wide and any(first <= i < first + count for i in wide):
                        cut = _Cut(QRectF(self._lefts[k], PAD, inner, count * self._steps[id(font)][0]))
                    found[text] = (lines[first:first + count], count, cut)
                if reuse:
                    seen.update(found)
            step, last = self._steps[id(font)]
            last -= step
            points = self._points[k, id(font)]
            for n, text in enumerate(texts):
                if text:
                    cell_lines, count, cut = found.get(text) or seen[text]
                    cells[n].append((cell_lines, points, cut))
                    if count * step + last > heights[n]:
                        heights[n] = count * step + last
        return [h + 2 * PAD for h in heights], cells, layouts

    def _ellipsis_cut(self, k: int, font: QFont, line: Any, wide: bool) -> _Cut:
        """The cut of a cell of column k whose text goes on past its last drawn `line`."""
        found = self._ellipses.get(id(font))
        if found is None:
            layout = QTextLayout("…", font, self._device)
            layout.setCacheEnabled(True)
            layout.beginLayout()
            dots = layout.createLine()
            layout.endLayout()
            found = self._ellipses[id(font)] = (layout, dots, dots.naturalTextWidth())
        _, dots, dots_w = found
        left, inner, step = self._lefts[k], self._inner[k], self._steps[id(font)][0]
        room = inner - dots_w
        # A right-aligned line ends at the cell's edge; a left-aligned one where its text ends, or
        # at the last character boundary that leaves room for the ellipsis.
        if self.columns[k].right:
            end = room
        elif line.naturalTextWidth() <= room:
            end = line.naturalTextWidth()
        else:
            end = line.cursorToX(line.xToCursor(room, QTextLine.CursorPosition.CursorOnCharacter))[0]
            end = min(end, room)
        top = PAD + (MAX_CELL_LINES - 1) * step
        return _Cut(QRectF(left, PAD, inner, top) if wide else None,
                    QRectF(left - PAD, top - step, end + PAD, 3 * step), dots, QPointF(left + end, top))

    def _chunk(self, c: int, *, drawing: bool = False) -> tuple[list[float], Any, Any]:
        found = self._chunks.get(c)
        if found is None or (drawing and found[1] is None):
            a = c * CHUNK_ROWS
            keep = drawing or a < CACHED_ROWS
            found = self._lay(self._rows[a:a + CHUNK_ROWS], self._fonts, cache=keep)
            if not keep:  # only the heights stay until the chunk is drawn (and laid out again)
                found = (found[0], None, None)
            self._chunks[c] = found
        return found

    def height(self, n: int) -> float:
        return self._chunk(n // CHUNK_ROWS)[0][n % CHUNK_ROWS]

    def cells(self, n: int) -> list[_Cell]:
        """Row n's non-empty cells (-1: the header row): their lines, and where each line goes
        relative to the row's top."""
        if n < 0:
            assert self._head is not None
            return self._head[1][0]
        return self._chunk(n // CHUNK_ROWS, drawing=True)[1][n % CHUNK_ROWS]

    def drawn(self, n: int) -> None:
        """Row n is on the page: a chunk whose last row is drawn lets its layouts go."""
        if n % CHUNK_ROWS == CHUNK_ROWS - 1:
            self._chunks.pop(n // CHUNK_ROWS, None)

    def release(self) -> None:
        self._chunks.clear()
        self._seen.clear()
        self._kept.clear()
        self._ellipses.clear()


class _Layouts:
    """The document's tables in order, laid out by the first pass and reused by the next."""

    def __init__(self) -> None:
        self.tables: list[_LaidTable] = []
        self._next = 0

    def rewind(self) -> None:
        self._next = 0

    def table(self, flow: _Flow, columns: Sequence[Column], rows: Any, *, header: bool,
              key_bold: bool) -> _LaidTable:
        k = self._next
        self._next += 1
        if k < len(self.tables):
            laid = self.tables[k]
            if laid.columns == tuple(columns) and laid.header == header and laid.key_bold == key_bold:
                return laid  # the same table: `rows` (often a generator) is not even read
        laid = _LaidTable(flow, columns, [list(r) for r in rows], header=header, key_bold=key_bold)
        self.tables[k:k + 1] = [laid]
        return laid


class _Flow:
    """Text and tables flowing down pages; with `painter=None` it only measures."""

    def __init__(self, device: QPaintDevice, painter: QPainter | None, report: Report, *, total_pages: int,
                 new_page: Callable[[], None], stop_after: int | None = None,
                 layouts: _Layouts | None = None,
                 row_hook: Callable[[int], None] | None = None) -> None:
        self.device = device
        self.p = painter
        self.report = report
        self.total = total_pages
        self._new_page = new_page
        self.stop_after = stop_after
        self.page = 1
        self.top = MARGIN + HEADER_H
        self.bottom = PAGE_H - MARGIN - FOOTER_H
        self.left, self.width = MARGIN, PAGE_W - 2 * MARGIN
        self.y = self.top
        self.f_body = _font("DejaVu Sans", 8)
        self.f_small = _font("DejaVu Sans", 6.5)
        self.f_small_mono = _font("DejaVu Sans Mono", 6)
        self.f_bold = _font("DejaVu Sans", 8, bold=True)
        self.f_small_bold = _font("DejaVu Sans", 6.5, bold=True)
        self.f_h1 = _font("DejaVu Sans", 16, bold=True)
        self.f_h2 = _font("DejaVu Sans", 11, bold=True)
        self.f_mono = _font("DejaVu Sans Mono", 7.5)
        self._metrics: dict[int, QFontMetricsF] = {}
        self._colours: dict[str, QColor] = {}
        self._grid = QColor("#bbbbbb")
        self._text_pen = QPen(QColor("#000000"))
        self.layouts = layouts if layouts is not None else _Layouts()
        self.layouts.rewind()
        self.row_hook: Callable[[int], None] | None = row_hook
        self._header_texts: tuple[str, str, str] | None = None
        self._decorate()

    # -- pages ---------------------------------------------------------------------------------

    def fm(self, font: QFont) -> QFontMetricsF:
        key = id(font)
        m = self._metrics.get(key)
        if m is None:
            m = self._metrics[key] = QFontMetricsF(font, self.device)
        return m

    def break_page(self) -> None:
        if self.stop_after is not None and self.page >= self.stop_after:
            raise _StopDrawing
        if self.p is not None:
            self._new_page()
        self.page += 1
        self.y = self.top
        self._decorate()

    def ensure(self, height: float) -> None:
        if self.y + height > self.bottom and self.y > self.top:
            self.break_page()

    def _page_texts(self) -> tuple[str, str, str]:
        """The header's title and store, and the footer's left part, each cut with "…" to the
        room it has (never the footer's digest: an auditor compares it)."""
        if self._header_texts is None:
            h, i = self.report.header, self.report.integrity
            fm, fm_bold = self.fm(self.f_small), self.fm(self.f_small_bold)
            store = "Event Explorer audit report · store "
            # The user's values are isolated (_isolated): right-to-left text in them must not reorder
            # our text and numbers beside them (the footer's digest).
            store += _isolated(fm.elidedText(_one_line(h.store_name, 200), Qt.ElideRight,
                                             self.width * 0.45 - fm.horizontalAdvance(store)))
            title = fm_bold.elidedText(_one_line(h.title, 500), Qt.ElideRight,
                                       self.width - fm.horizontalAdvance(store) - 12)
            before, after = f"Generated {h.generated_at_utc} by ", f" · event-list digest {i.event_list_digest}"
            room = self.width * 0.8 - fm.horizontalAdvance(before + after) - 4
            by = _isolated(fm.elidedText(_one_line(h.generated_by, 500), Qt.ElideRight, max(room, 0.0)))
            self._header_texts = (title, store, before + by + after)
        return self._header_texts

    def _decorate(self) -> None:
        p = self.p
        if p is None:
            return
        title, store, footer = self._page_texts()
        p.setPen(QColor("#333333"))
        p.setFont(self.f_small_bold)
        p.drawText(QRectF(MARGIN, MARGIN, self.width, HEADER_H - 6), Qt.AlignLeft | Qt.AlignBottom, title)
        p.setFont(self.f_small)
        p.drawText(QRectF(MARGIN, MARGIN, self.width, HEADER_H - 6), Qt.AlignRight | Qt.AlignBottom, store)
        p.setPen(QPen(QColor("#999999"), 0.5))
        p.drawLine(QPointF(MARGIN, MARGIN + HEADER_H - 3), QPointF(PAGE_W - MARGIN, MARGIN + HEADER_H - 3))
        fy = PAGE_H - MARGIN - FOOTER_H + 6
        p.drawLine(QPointF(MARGIN, fy - 3), QPointF(PAGE_W - MARGIN, fy - 3))
        p.setPen(QColor("#333333"))
        p.setFont(self.f_small)
        p.drawText(QRectF(MARGIN, fy, self.width * 0.8, FOOTER_H - 6), Qt.AlignLeft | Qt.AlignTop, footer)
        p.drawText(QRectF(MARGIN + self.width * 0.8, fy, self.width * 0.2, FOOTER_H - 6),
                   Qt.AlignRight | Qt.AlignTop, f"Page {self.page} of {self.total}" if self.total else f"Page {self.page}")

    # -- blocks --------------------------------------------------------------------------------

    def heading(self, text: str, font: QFont | None = None, gap: float = 8, keep: float = 30) -> None:
        """A heading; one too wide for the page (a long title) wraps as a paragraph does."""
        font = font or self.f_h2
        fm = self.fm(font)
        flags, h = self._wrapped(text, fm)
        h = max(h, fm.height()) + 2
        self.ensure(h + gap + keep)  # keep a heading with what follows it
        self.y += gap
        if self.p is not None:
            self.p.setFont(font)
            self.p.setPen(QColor("#000000"))
            self.p.drawText(QRectF(self.left, self.y, self.width, h), flags | int(Qt.AlignVCenter), text)
        self.y += h + 2

    def _wrapped(self, text: str, fm: QFontMetricsF) -> tuple[int, float]:
        """Flags to draw `text` wrapped to the page's width, and its height so drawn.

        Words wrap at spaces; when a word is wider than the page (a long id, or anything event
        data holds), it would run off it, so then the text may break anywhere.
        """
        flags = int(Qt.AlignLeft | Qt.TextWordWrap)
        rect = fm.boundingRect(QRectF(0, 0, self.width, 1e6), flags, text)
        if rect.width() > self.width:
            flags = int(Qt.AlignLeft | Qt.TextWrapAnywhere)
            rect = fm.boundingRect(QRectF(0, 0, self.width, 1e6), flags, text)
        return flags, rect.height()

    def paragraph(self, text: str, font: QFont | None = None, colour: str = "#222222") -> None:
        font = font or self.f_body
        flags, h = self._wrapped(text, self.fm(font))
        self.ensure(h)
        if self.p is not None:
            self.p.setFont(font)
            self.p.setPen(QColor(colour))
            self.p.drawText(QRectF(self.left, self.y, self.width, h), flags, text)
        self.y += h + 3

    def table(self, columns: Sequence[Column], rows: Any, *, header: bool = True, shade: bool = True,
              key_bold: bool = False) -> None:
        """Rows of cells; the header row is repeated at the top of every page the table spans.

        The table is laid out once (the k-th table of the document is shared by the counting and
        the drawing pass), so the counting pass only adds row heights.
        """
        laid = self.layouts.table(self, columns, rows, header=header, key_bold=key_bold)
        self.ensure(laid.head_h + 14)
        if header:
            self._draw_row(laid, -1, laid.head_h, fill="#e6e6e6")
        hook = self.row_hook
        for n in range(laid.count):
            if hook is not None and not n & 63:
                hook(n)
            h = laid.height(n)
            if self.y + h > self.bottom:
                self.break_page()
                if header:
                    self._draw_row(laid, -1, laid.head_h, fill="#e6e6e6")
            self._draw_row(laid, n, h, fill="#f5f5f5" if shade and n % 2 else None)
            if self.p is not None:
                laid.drawn(n)
        if self.p is not None:
            laid.release()

    def _draw_row(self, laid: _LaidTable, n: int, h: float, *, fill: str | None) -> None:
        p = self.p
        if p is not None:
            y = self.y
            if fill:
                p.fillRect(QRectF(self.left, y, laid.total_w, h), self._colour(fill))
            # The rule under the row as a thin rectangle: no pen to switch to and back.
            p.fillRect(QRectF(self.left, y + h - 0.2, laid.total_w, 0.4), self._grid)
            p.setPen(self._text_pen)
            # Each cell's lines were laid out (shaped, wrapped) once: drawing them is only the PDF's
            # output. The row is drawn translated, so the line positions are the same for every row.
            base = p.worldTransform()
            p.translate(0, y)
            for lines, points, cut in laid.cells(n):
                if cut is not None:
                    self._draw_cut(lines, points, cut)
                    continue
                for line, point in zip(lines, points):
                    line.draw(p, point)
            p.setWorldTransform(base)
        self.y += h

    def _draw_cut(self, lines: list[Any], points: tuple[QPointF, ...], cut: _Cut) -> None:
        """A cell that does not show all its text: clipped to the cell, ending in "…" when lines
        were left out."""
        p = self.p
        assert p is not None
        p.save()
        if cut.clip is not None:
            p.setClipRect(cut.clip)
        shown = len(lines) - 1 if cut.ellipsis is not None else len(lines)
        for line, point in zip(lines[:shown], points):
            line.draw(p, point)
        if cut.ellipsis is not None:
            p.setClipRect(cut.last_clip)
            lines[shown].draw(p, points[shown])
            p.setClipping(False)
            cut.ellipsis.draw(p, cut.at)
        p.restore()

    def _colour(self, name: str) -> QColor:
        found = self._colours.get(name)
        if found is None:
            found = self._colours[name] = QColor(name)
        return found

    def timeline(self) -> None:
        t = self.report.summary.timeline
        segments, top = chart.bars(t)
        if t.start is None or top == 0:
            self.paragraph("No events in the range.")
            return
        height = 120.0
        self.ensure(height + 30)
        left, plot_w = self.left + 34, self.width - 44
        bottom, plot_h = self.y + height - 14, height - 24
        p = self.p
        if p is not None:
            bw = plot_w / t.buckets
            p.setPen(QPen(QColor("#333333"), 0.6))
            p.drawLine(QPointF(left, bottom), QPointF(left + plot_w, bottom))
            p.setFont(self.f_small)
            p.drawText(QRectF(self.left, bottom - plot_h - 4, 30, 10), Qt.AlignRight, f"{top:,}")
            p.drawText(QRectF(self.left, bottom - 8, 30, 10), Qt.AlignRight, "0")
            for bar in segments:
                y1 = bottom - plot_h * bar.top / top
                p.fillRect(QRectF(left + bar.bucket * bw + 0.4, y1, max(bw - 0.8, 0.4),
                                  plot_h * (bar.top - bar.bottom) / top), QColor(bar.colour))
            p.setPen(QColor("#333333"))
            p.drawText(QRectF(left, bottom + 2, 200, 10), Qt.AlignLeft, t.start.strftime("%Y-%m-%d %H:%M UTC"))
            if t.end is not None:
                p.drawText(QRectF(left + plot_w - 200, bottom + 2, 200, 10), Qt.AlignRight,
                           t.end.strftime("%Y-%m-%d %H:%M UTC"))
            for k, a in enumerate(t.annotations, 1):
                if not a.recorded_at:
                    continue
                x = left + plot_w * t.fraction_of(datetime.fromisoformat(a.recorded_at.replace("Z", "+00:00")))
                p.setPen(QPen(QColor("#cc0000"), 0.8, Qt.DashLine))
                p.drawLine(QPointF(x, bottom - plot_h), QPointF(x, bottom))
                p.setPen(QColor("#cc0000"))
                p.drawText(QPointF(x + 2, bottom - plot_h + 7), f"[{k}]")
        self.y += height
        # legend
        x = self.left
        fm = self.fm(self.f_small)
        widest = min(self.width - 20, 240.0)
        for name, colour in chart.colours(t).items():
            name = " ".join(name.split())  # one line: an event type may hold line breaks
            w = fm.horizontalAdvance(name)
            if w > widest:  # a very long event type is cut with "…" instead of running off the page
                name = fm.elidedText(name, Qt.ElideRight, widest)
                w = fm.horizontalAdvance(name)
            w += 20
            if x + w > self.left + self.width:
                x = self.left
                self.y += 11
            if p is not None:
                p.fillRect(QRectF(x, self.y + 2, 7, 7), QColor(colour))
                p.setPen(QColor("#222222"))
                p.setFont(self.f_small)
                p.drawText(QRectF(x + 10, self.y, w, 10), Qt.AlignLeft | Qt.AlignVCenter, name)
            x += w
        self.y += 14


def _one_line(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def display_time(iso: str) -> str:
    """ISO UTC text split at the date, so a narrow column wraps it there."""
    return iso.replace("T", " ", 1)


def _event_cells(e: ReportEntry, mark: str) -> list[str]:
    return [f"{e.position:,}{mark}", display_time(e.recorded_at), display_time(e.occurred_at),
            f"{_isolated(e.stream_id)} v{e.version}", e.type, e.actor,
            e.sentence, e.changes_text()]


def _compose(flow: _Flow, report: Report, entries: Sequence[ReportEntry]) -> None:
    h, s, i = report.header, report.summary, report.integrity
    flow.heading(_one_line(h.title, 500), flow.f_h1, gap=0)
    flow.paragraph(f"Scope: {h.scope.describe()}", flow.f_body, "#444444")
    kv = [Column("", 150), Column("", 632)]
    kv_mono = [Column("", 150), Column("", 632, mono=True, wrap_anywhere=True)]
    flow.heading("Report")
    flow.table(kv, [
        ["Store", f"{_isolated(h.store_name)} ({_isolated(h.store_path)})"], ["Store id", h.store_id],
        ["Generated at (UTC)", h.generated_at_utc], ["Generated at (local)", h.generated_at_local],
        ["Generated by", h.generated_by], ["Event Explorer version", h.app_version],
    ], header=False, key_bold=True)
    flow.heading("Integrity")
    flow.table(kv_mono, [list(row) for row in integrity_rows(report)], header=False, key_bold=True)
    flow.paragraph("Verify with: event-explorer verify STORE --report FILE (the PDF's sidecar "
                   f"{'FILE.verify.json'} holds the machine-readable block). Digests: see docs/reports.md.",
                   flow.f_small, "#555555")
    flow.heading("Summary")
    flow.paragraph(f"{i.event_count:,} event(s) listed; {s.streams_changed:,} stream(s) changed in the range.")
    if s.first_event is not None and s.last_event is not None:
        flow.table(kv, [[label, f"#{e.position:,} · {e.recorded_at} · {_isolated(e.sentence)}"]
                        for label, e in (("First event", s.first_event), ("Last event", s.last_event))],
                   header=False, key_bold=True)
    types, actors = list(s.counts_by_type.items()), list(s.counts_by_actor.items())
    rows = []
    for n in range(max(len(types), len(actors))):
        t = types[n] if n < len(types) else ("", "")
        a = actors[n] if n < len(actors) else ("", "")
        rows.append([t[0], f"{t[1]:,}" if t[1] != "" else "", a[0], f"{a[1]:,}" if a[1] != "" else ""])
    flow.ensure(60)
    flow.table([Column("Event type", 200), Column("Events", 80, right=True), Column("Actor", 200),
                Column("Events", 80, right=True)], rows)
    flow.heading("Timeline", keep=170)
    flow.timeline()
    if report.annotations:
        flow.heading("Annotations (saved bookmarks)")
        flow.table([Column("Bookmark", 50), Column("Position", 70, right=True), Column("Recorded at", 130, mono=True),
                    Column("Note", 532)],
                   [[f"[{k}]", f"{a.position:,}", a.recorded_at, a.note] for k, a in enumerate(report.annotations, 1)])
    if len(s.streams) > DETAILED_STREAMS:
        flow.heading("What changed in the range, per stream")
        flow.table([Column("Stream", 200, wrap_anywhere=True), Column("Versions", 60),
                    Column("Changed fields (at the end of the range)", 522)],
                   [[f"{_isolated(st.name)} ({_isolated(st.stream_id)})" if st.name else st.stream_id,
                     f"{st.start_version} → {st.end_version}", "; ".join(c.text() for c in st.changes) or "no change"]
                    for st in s.streams])
        if s.streams_changed > len(s.streams):
            flow.paragraph(f"… {s.streams_changed:,} streams changed in all; the first {len(s.streams)} are shown.",
                           flow.f_small)
    elif s.streams:
        flow.heading("State at the start and the end of the range")
        for stream in s.streams:
            title = (f"{_isolated(stream.name)} ({_isolated(stream.stream_id)})" if stream.name
                     else _isolated(stream.stream_id))
            flow.y += 5
            flow.paragraph(f"{title} · version {stream.start_version} → {stream.end_version}", flow.f_bold)
            if stream.changes:
                flow.table([Column("Field", 160), Column("At the start", 311), Column("At the end", 311)],
                           [[c.label, c.old, c.new] for c in stream.changes])
            else:
                flow.paragraph("No change in the range.", flow.f_small, "#555555")
        if s.streams_changed > len(s.streams):
            flow.paragraph(f"… and more streams; the first {len(s.streams)} are shown.", flow.f_small)
    flow.break_page()
    flow.heading("Events", gap=0)
    notes = {a.position: k for k, a in enumerate(report.annotations, 1)}
    flow.table(EVENT_COLUMNS, (_event_cells(e, f" [{notes[e.position]}]" if e.position in notes else "")
                               for e in entries))
    flow.paragraph(f"End of the event list · {len(entries):,} event(s) · event-list digest {i.event_list_digest}",
                   flow.f_small, "#444444")
    if report.include_data:
        flow.break_page()
        flow.heading("Appendix: full event data", gap=0)
        for e in entries:
            body = orjson.dumps({"data": e.data, "metadata": e.metadata, "event_id": e.event_id,
                                 "event_hash": e.event_hash}, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()
            flow.paragraph(f"#{e.position:,} {_isolated(e.type)} · {_isolated(e.stream_id)} v{e.version}", flow.f_bold)
            flow.paragraph(body, flow.f_small_mono, "#222222")


def count_pages(report: Report, entries: Sequence[ReportEntry], device: QPaintDevice,
                layouts: _Layouts | None = None,
                row_hook: Callable[[int], None] | None = None) -> int:
    """Lay the document out without drawing; the tables' layouts are kept in `layouts`."""
    flow = _Flow(device, None, report, total_pages=0, new_page=lambda: None, layouts=layouts,
                 row_hook=row_hook)
    _compose(flow, report, entries)
    return flow.page


def write_pdf(report: Report, entries: Sequence[ReportEntry], path: str, *, pdf_a: bool = True,
              progress: Callable[[int, int], None] | None = None,
              cancelled: Callable[[], bool] | None = None) -> int:
    """Write the PDF to `path`; return its page count. `entries` is the materialized event list.

    `progress(done, total)` counts rows twice (laid out and counted, then drawn); `cancelled()`
    is asked every 64 rows and stops with ReportCancelled.
    """
    total = 2 * max(len(entries), 1)

    def hook_for(offset: int) -> Callable[[int], None]:
        def hook(row: int) -> None:
            if cancelled is not None and cancelled():
                raise ReportCancelled("the report was cancelled")
            if progress is not None:
                progress(offset + row, total)
        return hook

    ensure_gui_application()
    writer = QPdfWriter(path)
    if pdf_a:
        writer.setPdfVersion(QPagedPaintDevice.PdfVersion.PdfVersion_A1b)
    writer.setResolution(72)
    writer.setPageLayout(QPageLayout(QPageSize(QPageSize.PageSizeId.A4), QPageLayout.Orientation.Landscape,
                                     QMarginsF(0, 0, 0, 0), QPageLayout.Unit.Point))
    writer.setTitle(report.header.title)
    writer.setCreator(f"Event Explorer {report.header.app_version}")
    layouts = _Layouts()
    pages = count_pages(report, entries, writer, layouts, hook_for(0))
    painter = QPainter()
    if not painter.begin(writer):
        raise OSError(f"{path}: cannot write the PDF")
    try:
        flow = _Flow(writer, painter, report, total_pages=pages, new_page=writer.newPage, layouts=layouts,
                     row_hook=hook_for(len(entries)))
        _compose(flow, report, entries)
    finally:
        painter.end()
    if progress is not None:
        progress(total, total)
    return pages


def render_first_page(report: Report, entries: Sequence[ReportEntry], *, scale: float = 1.0,
                      count: bool = True) -> QImage:
    """Page 1 as an image (the dialog's live preview), laid out exactly as in the PDF.

    With `count=False` the page count is not laid out first (the footer says "Page 1").
    """
    ensure_gui_application()
    image = QImage(int(PAGE_W * scale), int(PAGE_H * scale), QImage.Format.Format_RGB32)
    dpm = round(72 / 0.0254)  # 72 dpi, like the PDF writer, so fonts measure the same
    image.setDotsPerMeterX(dpm)
    image.setDotsPerMeterY(dpm)
    image.fill(QColor("#ffffff"))
    layouts = _Layouts()
    pages = count_pages(report, entries, image, layouts) if count else 0
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
    painter.scale(scale, scale)
    try:
        flow = _Flow(image, painter, report, total_pages=pages, new_page=lambda: None, stop_after=1,
                     layouts=layouts)
        _compose(flow, report, entries)
    except _StopDrawing:
        pass
    finally:
        painter.end()
    return image

