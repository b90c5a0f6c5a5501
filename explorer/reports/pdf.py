"""The PDF report: paged A4 landscape, header and footer on every page, "page i of n", the event
table's header repeated on each page, archival PDF/A-1b (Qt's QPdfWriter).

Drawn with QPainter only (QtGui, never QtWidgets): every string is drawn as plain text, so event
data cannot become markup. A QGuiApplication (offscreen platform) is made on demand, so the CLI
renders without a display. The layout runs twice: a measuring pass counts the pages, then the
drawing pass prints "page i of n". The machine-readable block is a sidecar JSON beside the PDF.
"""

from __future__ import annotations

import os
import string
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
)

from explorer.reports import chart
from explorer.reports.html import integrity_rows
from explorer.reports.model import Report, ReportCancelled, ReportEntry

PAGE_W, PAGE_H = 842.0, 595.0  # A4 landscape in points (the writer runs at 72 dpi: 1 unit = 1 pt)
MARGIN = 30.0
HEADER_H, FOOTER_H = 22.0, 20.0
MAX_PDF_EVENTS = 100_000  # ~3,000 pages; beyond this a CSV or JSON report is the readable record
MAX_CELL_LINES = 4
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


# Letters to "a"/"A", digits to "0": the same width in a fixed-pitch font and the same line-break
# class, so a text and its shape wrap alike (see _Flow._measure).
_SHAPE = str.maketrans(string.ascii_lowercase + string.ascii_uppercase + string.digits,
                       "a" * 26 + "A" * 26 + "0" * 10)


class _Flow:
    """Text and tables flowing down pages; with `painter=None` it only measures."""

    def __init__(self, device: QPaintDevice, painter: QPainter | None, report: Report, *, total_pages: int,
                 new_page: Callable[[], None], stop_after: int | None = None,
                 measure_cache: dict[Any, tuple[float, int]] | None = None,
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
        self._flag_cache: dict[Column, int] = {}
        self._widest_cache: dict[int, float] = {}
        self._cell_cache: dict[tuple[int, float, int, str], float] = {}
        self._colours: dict[str, QColor] = {}
        self._grid_pen = QPen(QColor("#bbbbbb"), 0.4)
        self._text_pen = QPen(QColor("#000000"))
        self.measure_cache: dict[Any, tuple[float, int]] = measure_cache if measure_cache is not None else {}
        mono = self.fm(self.f_small_mono)
        self._mono_uniform = len({mono.horizontalAdvance(chr(c)) for c in range(32, 127)}) == 1
        self.row_hook: Callable[[int], None] | None = row_hook
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

    def _decorate(self) -> None:
        p = self.p
        if p is None:
            return
        h, i = self.report.header, self.report.integrity
        p.setPen(QColor("#333333"))
        p.setFont(self.f_small_bold)
        p.drawText(QRectF(MARGIN, MARGIN, self.width * 0.6, HEADER_H - 6), Qt.AlignLeft | Qt.AlignBottom,
                   _one_line(h.title, 120))
        p.setFont(self.f_small)
        p.drawText(QRectF(MARGIN + self.width * 0.4, MARGIN, self.width * 0.6, HEADER_H - 6),
                   Qt.AlignRight | Qt.AlignBottom, f"Event Explorer audit report · store {_one_line(h.store_name, 60)}")
        p.setPen(QPen(QColor("#999999"), 0.5))
        p.drawLine(QPointF(MARGIN, MARGIN + HEADER_H - 3), QPointF(PAGE_W - MARGIN, MARGIN + HEADER_H - 3))
        fy = PAGE_H - MARGIN - FOOTER_H + 6
        p.drawLine(QPointF(MARGIN, fy - 3), QPointF(PAGE_W - MARGIN, fy - 3))
        p.setPen(QColor("#333333"))
        p.setFont(self.f_small)
        p.drawText(QRectF(MARGIN, fy, self.width * 0.8, FOOTER_H - 6), Qt.AlignLeft | Qt.AlignTop,
                   f"Generated {h.generated_at_utc} by {_one_line(h.generated_by, 40)} · "
                   f"event-list digest {i.event_list_digest}")
        p.drawText(QRectF(MARGIN + self.width * 0.8, fy, self.width * 0.2, FOOTER_H - 6),
                   Qt.AlignRight | Qt.AlignTop, f"Page {self.page} of {self.total}" if self.total else f"Page {self.page}")

    # -- blocks --------------------------------------------------------------------------------

    def heading(self, text: str, font: QFont | None = None, gap: float = 8, keep: float = 30) -> None:
        font = font or self.f_h2
        h = self.fm(font).height() + 2
        self.ensure(h + gap + keep)  # keep a heading with what follows it
        self.y += gap
        if self.p is not None:
            self.p.setFont(font)
            self.p.setPen(QColor("#000000"))
            self.p.drawText(QRectF(self.left, self.y, self.width, h), Qt.AlignLeft | Qt.AlignVCenter, text)
        self.y += h + 2

    def paragraph(self, text: str, font: QFont | None = None, colour: str = "#222222") -> None:
        font = font or self.f_body
        flags = int(Qt.AlignLeft | Qt.TextWordWrap)
        h = self.fm(font).boundingRect(QRectF(0, 0, self.width, 1e6), flags, text).height()
        self.ensure(h)
        if self.p is not None:
            self.p.setFont(font)
            self.p.setPen(QColor(colour))
            self.p.drawText(QRectF(self.left, self.y, self.width, h), flags, text)
        self.y += h + 3

    def table(self, columns: Sequence[Column], rows: Any, *, header: bool = True, shade: bool = True,
              key_bold: bool = False) -> None:
        """Rows of cells; the header row is repeated at the top of every page the table spans."""
        total_w = sum(c.width for c in columns)
        scale = self.width / total_w if total_w > self.width else 1.0
        widths = [c.width * scale for c in columns]
        titles = [c.title for c in columns]
        flags = [self._flags(c) for c in columns]  # once per table: a Column's hash is not free
        head_h, head_clip = self._measure(titles, columns, widths, flags, True, False) if header else (0.0, 0)
        self.ensure(head_h + 14)
        if header:
            self._draw_row(titles, columns, widths, flags, head_h, head_clip, bold=True, fill="#e6e6e6")
        hook = self.row_hook
        for n, cells in enumerate(rows):
            if hook is not None and not n & 63:
                hook(n)
            h, clip = self._measure(cells, columns, widths, flags, False, key_bold)
            if self.y + h > self.bottom:
                self.break_page()
                if header:
                    self._draw_row(titles, columns, widths, flags, head_h, head_clip, bold=True, fill="#e6e6e6")
            fill = "#f5f5f5" if shade and n % 2 else None
            self._draw_row(cells, columns, widths, flags, h, clip, bold=False, fill=fill, key_bold=key_bold)

    def _cell_font(self, column: Column, bold: bool) -> QFont:
        if bold:
            return self.f_small_bold
        return self.f_small_mono if column.mono else self.f_small

    def _flags(self, column: Column) -> int:
        flags = self._flag_cache.get(column)
        if flags is None:
            wrap = Qt.TextWrapAnywhere if column.wrap_anywhere else Qt.TextWordWrap
            flags = self._flag_cache[column] = int((Qt.AlignRight if column.right else Qt.AlignLeft)
                                                   | Qt.AlignTop | wrap)
        return flags

    def _widest(self, font: QFont) -> float:
        """The widest printable ASCII glyph: len(text) times it bounds an ASCII text's width."""
        key = id(font)
        found = self._widest_cache.get(key)
        if found is None:
            fm = self.fm(font)
            found = self._widest_cache[key] = max(fm.horizontalAdvance(chr(c)) for c in range(32, 127))
        return found

    def _measure(self, cells: Sequence[str], columns: Sequence[Column], widths: list[float], flags: list[int],
                 bold: bool, key_bold: bool) -> tuple[float, int]:
        """(row height, bit masks: cells cut at MAX_CELL_LINES, and << 32 cells of several lines).

        Cached across the counting and the drawing pass.
        """
        key = (id(columns), tuple(cells), bold, key_bold)
        found = self.measure_cache.get(key)
        if found is not None:
            return found
        best, clip, multi = 0.0, 0, 0
        for k, (text, column, w, flag) in enumerate(zip(cells, columns, widths, flags)):
            if not text:
                continue
            font = self.f_small_bold if (bold or (key_bold and k == 0)) else self._cell_font(column, False)
            fm = self.fm(font)
            inner = w - 2 * PAD
            line = fm.height()
            # Most cells are short: a bound from the widest glyph spares measuring them.
            if "\n" not in text and text.isascii() and len(text) * self._widest(font) <= inner:
                h = line
            else:
                # Types, actors and times repeat from row to row: measure each text once per column.
                # In a font whose ASCII glyphs all have one width, a text wraps like any text of the
                # same shape (letters, digits, punctuation in the same places: the same line-break
                # classes): times, ids and hashes then share one measurement.
                shape = text.translate(_SHAPE) if font is self.f_small_mono and self._mono_uniform \
                    and "\n" not in text and text.isascii() else text
                cell_key = (id(font), inner, flag, shape)
                h = self._cell_cache.get(cell_key)
                if h is None:
                    # A text clearly narrower than the cell is one line: its advance is cheaper than a
                    # layout (the 1 pt margin: Qt wraps some texts whose advance is just under the width).
                    one_line = "\n" not in text and fm.horizontalAdvance(text) <= inner - 1
                    h = self._cell_cache[cell_key] = line if one_line \
                        else fm.boundingRect(QRectF(0, 0, inner, 1e6), flag, text).height()
                if h > line * MAX_CELL_LINES + 0.5:
                    h = line * MAX_CELL_LINES
                    clip |= 1 << k
                if h > line + 0.5:
                    multi |= 1 << k
            best = max(best, h)
        found = self.measure_cache[key] = (best + 2 * PAD, clip | (multi << 32))
        return found

    def _draw_row(self, cells: Sequence[str], columns: Sequence[Column], widths: list[float], flags: list[int],
                  h: float, clip: int, *, bold: bool, fill: str | None, key_bold: bool = False) -> None:
        p = self.p
        if p is not None:
            x = self.left
            total = sum(widths)
            if fill:
                p.fillRect(QRectF(x, self.y, total, h), self._colour(fill))
            p.setPen(self._grid_pen)
            p.drawLine(QPointF(x, self.y + h), QPointF(x + total, self.y + h))
            p.setPen(self._text_pen)
            current = None
            top, multi = self.y + PAD, clip >> 32
            for k, (text, column, w) in enumerate(zip(cells, columns, widths)):
                if text:
                    font = self.f_small_bold if (bold or (key_bold and k == 0)) else self._cell_font(column, False)
                    if font is not current:
                        p.setFont(font)
                        current = font
                        fm = self.fm(font)
                        ascent = fm.ascent()
                    if not multi & (1 << k):
                        # One line: the plain point overload skips text layout (faster by a quarter);
                        # no QRectF either (the same coordinates as the cell rectangle's).
                        left = (x + PAD) + (w - 2 * PAD) - fm.horizontalAdvance(text) if column.right else x + PAD
                        p.drawText(QPointF(left, top + ascent), text)
                        x += w
                        continue
                    rect = QRectF(x + PAD, top, w - 2 * PAD, h - 2 * PAD)
                    if clip & (1 << k):  # only a cut cell pays for a clip
                        p.save()
                        p.setClipRect(rect.adjusted(0, 0, 0, 0.5))
                        p.drawText(rect, flags[k], text)
                        p.restore()
                        current = None
                    else:
                        p.drawText(rect, flags[k], text)
                x += w
        self.y += h

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
        for name, colour in chart.colours(t).items():
            w = fm.horizontalAdvance(name) + 20
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
    return [f"{e.position:,}{mark}", display_time(e.recorded_at), display_time(e.occurred_at), f"{e.stream_id} v{e.version}", e.type, e.actor,
            e.sentence, e.changes_text()]


def _compose(flow: _Flow, report: Report, entries: Sequence[ReportEntry]) -> None:
    h, s, i = report.header, report.summary, report.integrity
    flow.heading(_one_line(h.title, 200), flow.f_h1, gap=0)
    flow.paragraph(f"Scope: {h.scope.describe()}", flow.f_body, "#444444")
    kv = [Column("", 150), Column("", 632)]
    kv_mono = [Column("", 150), Column("", 632, mono=True, wrap_anywhere=True)]
    flow.heading("Report")
    flow.table(kv, [
        ["Store", f"{h.store_name} ({h.store_path})"], ["Store id", h.store_id],
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
        flow.table(kv, [[label, f"#{e.position:,} · {e.recorded_at} · {e.sentence}"]
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
                   [[f"{st.name} ({st.stream_id})" if st.name else st.stream_id,
                     f"{st.start_version} → {st.end_version}", "; ".join(c.text() for c in st.changes) or "no change"]
                    for st in s.streams])
        if s.streams_changed > len(s.streams):
            flow.paragraph(f"… {s.streams_changed:,} streams changed in all; the first {len(s.streams)} are shown.",
                           flow.f_small)
    elif s.streams:
        flow.heading("State at the start and the end of the range")
        for stream in s.streams:
            title = f"{stream.name} ({stream.stream_id})" if stream.name else stream.stream_id
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
            flow.paragraph(f"#{e.position:,} {e.type} · {e.stream_id} v{e.version}", flow.f_bold)
            flow.paragraph(body, flow.f_small_mono, "#222222")


def count_pages(report: Report, entries: Sequence[ReportEntry], device: QPaintDevice,
                measure_cache: dict[Any, tuple[float, int]] | None = None,
                row_hook: Callable[[int], None] | None = None) -> int:
    """Lay the document out without drawing; the measurements are kept in `measure_cache`."""
    flow = _Flow(device, None, report, total_pages=0, new_page=lambda: None, measure_cache=measure_cache,
                 row_hook=row_hook)
    _compose(flow, report, entries)
    return flow.page


def write_pdf(report: Report, entries: Sequence[ReportEntry], path: str, *, pdf_a: bool = True,
              progress: Callable[[int, int], None] | None = None,
              cancelled: Callable[[], bool] | None = None) -> int:
    """Write the PDF to `path`; return its page count. `entries` is the materialized event list.

    `progress(done, total)` counts rows laid out twice (counting, then drawing); `cancelled()`
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
    cache: dict[Any, tuple[float, int]] = {}
    pages = count_pages(report, entries, writer, cache, hook_for(0))
    painter = QPainter()
    if not painter.begin(writer):
        raise OSError(f"{path}: cannot write the PDF")
    try:
        flow = _Flow(writer, painter, report, total_pages=pages, new_page=writer.newPage, measure_cache=cache,
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
    pages = count_pages(report, entries, image) if count else 0
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
    painter.scale(scale, scale)
    try:
        flow = _Flow(image, painter, report, total_pages=pages, new_page=lambda: None, stop_after=1)
        _compose(flow, report, entries)
    except _StopDrawing:
        pass
    finally:
        painter.end()
    return image

