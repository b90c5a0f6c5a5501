"""The PDF's tables: laid out once by Qt, column by column, and drawn from those same lines."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from types import SimpleNamespace

import pypdf
import pytest
from PySide6.QtCore import QMarginsF, QRectF, Qt
from PySide6.QtGui import QImage, QPageLayout, QPageSize, QPainter, QPdfWriter

from explorer.reports import pdf
from explorer.reports.model import ReportScope, start_report
from explorer.reports.writer import write_report
from explorer.store.base_types import NO_STREAM
from explorer.store.records import NewEvent
from explorer.store.sqlite import SQLiteEventStore

_REPORT = SimpleNamespace(  # what the page decoration reads
    header=SimpleNamespace(title="Tables", store_name="test", generated_at_utc="2026-01-01T00:00:00Z",
                           generated_by="pytest"),
    integrity=SimpleNamespace(event_list_digest="0" * 64),
)

ODD_ROWS = [
    ["1", "2026-01-01 00:00:00.000001Z", "", "stream-with-a-very-long-name-that-wraps-anywhere v1", "Type", "me",
     "a sentence\nwith its own line break", ""],
    ["22", "2026-01-01 00:00:01Z", "2026-01-01 00:00:00Z", "s v2", "Type", "",
     "Averyveryveryveryveryveryveryveryveryveryveryveryveryverylongwordthatdoesnotfit", "x"],
    ["333", "", "", "s v3", "Type", "you", " ".join(f"word{i}" for i in range(80)), "é ü 漢字 emoji 🙂"],
    ["4,444", "2026-01-01 00:00:02Z", "", "", "", "", "", ""],
]


def _image() -> QImage:
    pdf.ensure_gui_application()
    image = QImage(int(pdf.PAGE_W), int(pdf.PAGE_H), QImage.Format.Format_RGB32)
    dpm = round(72 / 0.0254)
    image.setDotsPerMeterX(dpm)
    image.setDotsPerMeterY(dpm)
    return image


def _qt_height(flow: pdf._Flow, text: str, column: pdf.Column) -> float:
    """The cell's height as QPainter.drawText(rect) would wrap it, cut after MAX_CELL_LINES lines.

    A word wider than the cell (and its padding) is broken anywhere (the same as wrapping
    anywhere for a cell that holds only that word, as the cells here do)."""
    if not text:
        return 0.0
    fm = flow.fm(flow.f_small_mono if column.mono else flow.f_small)
    inner = column.width - 2 * pdf.PAD
    anywhere = column.wrap_anywhere or any(fm.horizontalAdvance(w) > inner + pdf.PAD for w in text.split())
    flags = int((Qt.AlignRight if column.right else Qt.AlignLeft) | Qt.AlignTop
                | (Qt.TextWrapAnywhere if anywhere else Qt.TextWordWrap))
    height = fm.boundingRect(QRectF(0, 0, column.width - 2 * pdf.PAD, 1e6), flags, text).height()
    step = -(-fm.height() // 1)  # lines are a rounded-up line height apart
    cut = (pdf.MAX_CELL_LINES - 1) * step + fm.height()
    return min(height, cut)


def test_row_heights_are_qts_own_wrapping(store) -> None:
    run = start_report(store, ReportScope())
    rows = [pdf._event_cells(e, "") for e in run.entries(None, None)] + ODD_ROWS
    flow = pdf._Flow(_image(), None, _REPORT, total_pages=0, new_page=lambda: None)
    laid = pdf._LaidTable(flow, pdf.EVENT_COLUMNS, rows, header=True, key_bold=False)
    assert laid.count == len(rows) > 1000
    for n, row in enumerate(rows):
        expected = max(_qt_height(flow, text, column) for text, column in zip(row, pdf.EVENT_COLUMNS))
        assert laid.height(n) == pytest.approx(expected + 2 * pdf.PAD), (n, row)
    cut = pdf.MAX_CELL_LINES
    assert max(len(lines) for row in range(laid.count) for lines, _, _ in laid.cells(row)) == cut
    # Types repeat: every row's type cell is drawn from the one laid-out line of that text.
    type_lines = {id(laid.cells(n)[4][0]) for n in range(laid.count - len(ODD_ROWS))}
    assert len(type_lines) == len({row[4] for row in rows[:-len(ODD_ROWS)]})


def _table_pdf(path: Path, rows: list[list[str]]) -> str:
    pdf.ensure_gui_application()
    writer = QPdfWriter(str(path))
    writer.setResolution(72)
    writer.setPageLayout(QPageLayout(QPageSize(QPageSize.PageSizeId.A4), QPageLayout.Orientation.Landscape,
                                     QMarginsF(0, 0, 0, 0), QPageLayout.Unit.Point))
    layouts = pdf._Layouts()
    columns = [pdf.Column("Key", 100), pdf.Column("Value", 200, wrap_anywhere=True), pdf.Column("Note", 100)]
    for painter in (None, QPainter(writer)):  # count, then draw: the second pass reuses the layout
        flow = pdf._Flow(writer, painter, _REPORT, total_pages=0, new_page=writer.newPage, layouts=layouts)
        flow.table(columns, iter(rows))
        if painter is not None:
            painter.end()
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(str(path)).pages)


def test_a_long_cell_is_cut_after_four_lines(tmp_path: Path) -> None:
    lines = [f"line{i}" for i in range(1, 8)]
    text = _table_pdf(tmp_path / "t.pdf", [["one", "short", "\n".join(lines)], ["two", "<b>not bold</b>", "n"]])
    text = text.replace("\t", " ")
    assert all(line in text for line in lines[:pdf.MAX_CELL_LINES])
    assert not any(line in text for line in lines[pdf.MAX_CELL_LINES:])
    assert "<b>not bold</b>" in text and "Key" in text and "two" in text


def test_a_word_wider_than_its_cell_stays_in_its_cell() -> None:
    image = _image()
    image.fill(Qt.GlobalColor.white)
    painter = QPainter(image)
    flow = pdf._Flow(image, painter, _REPORT, total_pages=0, new_page=lambda: None)
    flow.table([pdf.Column("A", 60), pdf.Column("B", 200)], [["W" * 80, ""]], header=False, shade=False)
    painter.end()
    top = int(pdf.MARGIN + pdf.HEADER_H) + 1
    inside = [image.pixelColor(x, y).lightness() for x in range(int(pdf.MARGIN) + 10, int(pdf.MARGIN) + 50)
              for y in range(top, top + 8)]
    beyond = [image.pixelColor(x, y).lightness() for x in range(int(pdf.MARGIN) + 62, int(pdf.MARGIN) + 250)
              for y in range(top, top + 8)]
    assert min(inside) < 128  # the word is drawn in its cell
    assert min(beyond) > 240  # and not over the next one


def test_rows_past_the_cached_ones_are_shaped_again_and_look_the_same(store, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def extract(path: Path) -> str:
        text = "\n".join(page.extract_text() for page in pypdf.PdfReader(str(path)).pages)
        return re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)", "GENERATED", text)

    scope = ReportScope(to_position=100)  # pypdf takes a while for each page
    cached = write_report(store, scope, tmp_path / "cached.pdf")
    monkeypatch.setattr(pdf, "CACHED_ROWS", 40)
    monkeypatch.setattr(pdf, "CHUNK_ROWS", 16)
    uncached = write_report(store, scope, tmp_path / "uncached.pdf")
    assert uncached.pages == cached.pages > 5
    assert extract(tmp_path / "uncached.pdf") == extract(tmp_path / "cached.pdf")


def test_a_paragraph_with_a_word_wider_than_the_page_stays_on_the_page() -> None:
    image = _image()
    image.fill(Qt.GlobalColor.white)
    painter = QPainter(image)
    flow = pdf._Flow(image, painter, _REPORT, total_pages=0, new_page=lambda: None)
    top = flow.y
    flow.paragraph("Stream " + "x" * 600 + " ends here")
    # 600 x's are about five page widths: all of them are on the page, on five lines or more
    # (cut to the text's rectangle, they were two lines and most x's were lost).
    assert flow.y - top > 4.5 * flow.fm(flow.f_body).height()
    flow.paragraph("Ordinary words wrap at spaces, as before.")
    painter.end()
    right = int(pdf.MARGIN + flow.width) + 2
    beyond = [image.pixelColor(x, y).lightness() for x in range(right, int(pdf.PAGE_W))
              for y in range(int(top), int(flow.y))]
    assert min(beyond) > 240  # nothing drawn in the right margin or past the page


def _pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(str(path)).pages).replace("\t", " ")


def _event_rows(text: str) -> dict[int, str]:
    """The event list's text cut into rows: each row starts at a line holding only its position
    (the Position cell), followed by its Recorded-at date."""
    lines = text[text.index("Changed fields"):text.index("End of the event list")].splitlines()
    starts = [n for n, line in enumerate(lines[:-1])
              if re.fullmatch(r"\d+", line.strip()) and re.match(r"\d{4}-\d\d-\d\d", lines[n + 1])]
    return {int(lines[a].strip()): "\n".join(lines[a:b]) for a, b in zip(starts, [*starts[1:], len(lines)])}


def test_every_row_shows_its_own_event_after_characters_outside_the_bmp(tmp_path: Path) -> None:
    # Qt counts text positions in UTF-16 units: an emoji is one Python character and two units.
    # Cells of a column are laid out together, so counting in Python characters gave each later
    # row the text of the row before it.
    emoji = "\U0001F600"
    with SQLiteEventStore.create(tmp_path / "s.evstore") as store:
        events = [NewEvent("Set", {"k": emoji * 12}, {"actor": emoji * 12})]
        events += [NewEvent("Set", {"k": f"value-{n}"}, {"actor": f"actor-{n}"}) for n in range(2, 10)]
        store.append("thing-1", "Thing", events, NO_STREAM)
        write_report(store, ReportScope(), tmp_path / "r.pdf")
    rows = _event_rows(_pdf_text(tmp_path / "r.pdf"))
    assert sorted(rows) == list(range(1, 10))
    assert "actor-" not in rows[1] and "value-" not in rows[1]
    for n in range(2, 10):
        assert re.findall(r"actor-\d+", rows[n]) == [f"actor-{n}"], rows[n]
        assert f'Set k="value-{n}"' in rows[n], rows[n]
        assert set(re.findall(r"value-\d+", rows[n])) == ({f"value-{n}", f"value-{n - 1}"} if n > 2 else {"value-2"})


HOSTILE = [
    "\U0001F600",  # one character, two UTF-16 units
    "\U0001F469\u200D\U0001F4BB x",  # a ZWJ sequence
    "\U0001D400\U0001D401 math",  # mathematical alphanumerics
    "x\ud83dy",  # a lone surrogate: Qt drops it
    "\ud83d\ude00 pair",  # a surrogate pair as two Python characters: Qt joins them
    "a\r\nb\nc\u2028d",  # the cell's own line breaks
    "nul\x00here",
    "\u05e9\u05dc\u05d5\u05dd \u202e rtl",
]


def test_cells_of_one_column_map_to_their_own_rows_for_any_text(tmp_path: Path) -> None:
    rows = [[f"key-{n} {HOSTILE[n % len(HOSTILE)]}", f"{HOSTILE[(n + 3) % len(HOSTILE)]} value-{n}",
             f"note-{n} {HOSTILE[(n + 5) % len(HOSTILE)] * (n % 3 + 1)}"] for n in range(40)]
    text = _table_pdf(tmp_path / "t.pdf", rows)
    markers = re.findall(r"(?:key|value|note)-\d+", text)
    assert markers == [f"{kind}-{n}" for n in range(40) for kind in ("key", "value", "note")]


def test_a_long_word_in_a_cell_wraps_and_a_cut_cell_ends_in_an_ellipsis(tmp_path: Path) -> None:
    long_word = "C" * 300
    rows = [["one", "short", "\n".join(f"line{i}" for i in range(1, 8))],
            [long_word, "v", "n"],
            ["three", "Averyveryveryveryverylongword", "Averyveryveryveryverylongword"]]
    text = _table_pdf(tmp_path / "t.pdf", rows).replace("\n", "")
    assert "line4…" in text and "line5" not in text  # cut after its 4th line, and it says so
    # The key column (100 pt) once showed one line of C's, cut at its edge: now four lines, then "…".
    shown = re.search(r"C+…", text)
    assert shown is not None and 4 * 14 < len(shown.group()) - 1 < 300
    # A word that fits in no line of its cell is broken, and nothing of it is lost.
    assert text.count("Averyveryveryveryverylongword") == 2
    assert text.count("…") == 2


def _page_images(store: SQLiteEventStore, **options: object) -> tuple[list[QImage], pdf._Flow]:
    """Every page of the PDF report as an image, laid out and drawn as write_pdf does."""
    run = start_report(store, ReportScope(), **options)
    entries = list(run.entries())
    image = _image()
    image.fill(Qt.GlobalColor.white)
    pages: list[QImage] = []

    def new_page() -> None:
        pages.append(image.copy())
        image.fill(Qt.GlobalColor.white)

    painter = QPainter(image)
    flow = pdf._Flow(image, painter, run.report, total_pages=0, new_page=new_page)
    pdf._compose(flow, run.report, entries)
    painter.end()
    pages.append(image.copy())
    return pages, flow


def test_long_unbroken_text_stays_on_the_page_and_the_footer_keeps_its_digest(tmp_path: Path) -> None:
    with SQLiteEventStore.create(tmp_path / "s.evstore") as store:
        store.append("thing-" + "i" * 3000, "Thing" * 200, [
            NewEvent("X" * 3000, {"k": "B" * 3000}, {"actor": "C" * 3000}),
            NewEvent("Set", {"k": "v"}, {"actor": "me"}),
        ], NO_STREAM)
        title = "T" * 300 + " end-of-title"
        by = "W" * 300
        write_report(store, ReportScope(), tmp_path / "r.pdf", title=title, generated_by=by)
        pages, flow = _page_images(store, title=title, generated_by=by)
    first = pypdf.PdfReader(str(tmp_path / "r.pdf")).pages[0].extract_text().replace("\n", "")
    assert "T" * 300 + " end-of-title" in first.replace("\t", " ")  # the whole title, wrapped
    right = int(pdf.PAGE_W - pdf.MARGIN) + 2
    for n, page in enumerate(pages, 1):
        beyond = [page.pixelColor(x, y).lightness() for x in range(right, int(pdf.PAGE_W), 2)
                  for y in range(0, int(pdf.PAGE_H), 2)]
        assert min(beyond) > 240, f"page {n}: something drawn in the right margin"
    # The page's own title and store, and the footer, are cut with "…" to their room; the footer
    # never loses the event-list digest.
    title_text, store_text, footer = flow._page_texts()
    fm, fm_bold = flow.fm(flow.f_small), flow.fm(flow.f_small_bold)
    assert title_text.endswith("…") and fm_bold.horizontalAdvance(title_text) + fm.horizontalAdvance(store_text) < flow.width
    assert footer.endswith(f" · event-list digest {flow.report.integrity.event_list_digest}")
    assert "W…" in footer and fm.horizontalAdvance(footer) <= flow.width * 0.8


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_right_to_left_text_does_not_reorder_the_next_cell_or_line(tmp_path: Path) -> None:
    # A column's cells are laid out in one paragraph (joined by U+2028, which does not end a bidi
    # paragraph): a cell ending in Arabic made the digits that start the next one Arabic numbers,
    # and "#4 · 2026-11-27T…" was drawn "#27-11-2026 · 4T…". Each cell is a bidi isolate now.
    arabic = "\u0634\u0631\u0643\u0629"  # "شركة"
    device = "0f1e2d3c-0000-4000-8000-000000000001"
    with SQLiteEventStore.create(tmp_path / "s.evstore") as store:
        store.append(f"device-{device}", "Device", [
            NewEvent("DeviceRegistered", {"device_id": device, "name": "gateway-1", "kind": "phone", "owner": arabic},
                     {"actor": "alice"}),
            *(NewEvent("CallReported", {"direction": "out", "number": f"+1 555 000{n}", "duration_s": 3 + n,
                                        "occurred_at": "2026-10-10T02:00:00Z"}, {"actor": actor})
              for n, actor in enumerate([arabic, "2026 ops", arabic])),
        ], NO_STREAM)
        written = write_report(store, ReportScope(), tmp_path / "r.pdf", generated_by=arabic)
    text = _pdf_text(tmp_path / "r.pdf")
    flat = _flat(text)
    when = r"2026-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z"
    assert re.search(rf"Firstevent#1·{when}·Devicegateway-1registered\(phone,owner", flat), text
    assert re.search(rf"#4·{when}·Outgoingcallto\+15550002ongateway-1,5s", flat), text
    assert "2026ops" in flat  # after an Arabic actor in the same column
    rows = _event_rows(text)
    assert sorted(rows) == [1, 2, 3, 4]
    for n, row in rows.items():
        assert re.match(rf"{n}2026-\d\d-\d\d\d\d:\d\d:\d\d\.\d+Z", _flat(row)), row
        if n > 1:
            assert f"Outgoingcallto+1555000{n - 2}ongateway-1,{n + 1}s" in _flat(row), row
    assert flat.count(f"event-listdigest{written.report.integrity.event_list_digest}") == written.pages + 1  # footers, end of list
    # The Arabic is still there, drawn right to left: its glyphs (presentation forms) come out in
    # visual order, the last letter first.
    assert unicodedata.normalize("NFKC", text).count(arabic[::-1]) >= 6


def test_a_cells_bidi_controls_and_right_to_left_text_stay_in_their_cell(tmp_path: Path) -> None:
    arabic = "\u0634\u0631\u0643\u0629"
    before = [arabic, f"x {arabic}", "\u202eoverride", "\u202bembedded \u05e9", "stray \u2069 pop " + arabic,
              "open \u2067isolate " + arabic, "\u2068\u2068two open " + arabic, "\u2066ok\u2069 " + arabic]
    rows = []
    for n, cell in enumerate(before):
        rows += [[cell, cell, cell], [f"{n}1 · 2{n}", f"#{n} · 2026-0{n}-01", f"{n}0 after"]]
    text = _flat(_table_pdf(tmp_path / "t.pdf", rows))
    for n in range(len(before)):
        assert f"{n}1·2{n}" in text and f"#{n}·2026-0{n}-01" in text and f"{n}0after" in text, (n, text)


def test_isolated_text() -> None:
    fsi, pdi = "\u2068", "\u2069"
    assert pdf._isolated("plain ascii 12") == "plain ascii 12"
    assert pdf._isolated("\u0634 12") == f"{fsi}\u0634 12{pdi}"
    assert pdf._isolated(f"a{pdi}b") == f"{fsi}ab{pdi}"  # a PDI with no initiator would close ours
    assert pdf._isolated("\u2067a") == f"{fsi}\u2067a{pdi}{pdi}"  # an open isolate is closed first
    assert pdf._isolated(f"\u2066a{pdi}{pdi}") == f"{fsi}\u2066a{pdi}{pdi}"
    # Text that cannot reorder anything is left as it is (an isolate costs Qt a run to shape).
    assert pdf._isolated("é → 漢字 🙂 \u200e") == "é → 漢字 🙂 \u200e"
    assert pdf._isolated("\u0661\u0662") == f"{fsi}\u0661\u0662{pdi}"  # Arabic-Indic digits (AN)
    assert pdf._isolated("a\u202eb") == f"{fsi}a\u202eb{pdi}"
