"""CSV, XLSX and PDF writers of an :class:`~analytics.reports.tables.ExportTable`.

Libraries: the standard ``csv`` module; openpyxl in write-only mode (rows stream to the
file, constant memory); reportlab for the PDF with its own chart package (no matplotlib
figure or browser needed). Each writer reads the table's rows once and calls ``progress`` with
the rows written so far every ``PROGRESS_EVERY`` rows.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import IO, Any

from django.utils import timezone

from analytics.reports.tables import ExportTable

FORMATS = ("csv", "xlsx", "pdf")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
PROGRESS_EVERY = 500
# The PDF's table is cut into pieces of this many rows (each piece laid out on its own).
PDF_TABLE_PIECE = 400
Progress = Callable[[int], None] | None


def _cell(value: Any) -> Any:
    return "" if value is None else value


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def about(table: ExportTable) -> list[tuple[str, str]]:
    """The heading facts every format carries."""
    return [("Site", table.site_name), ("Scope", table.scope_label),
            ("Range", table.range_text), ("Timezone", table.timezone),
            ("Bucket", table.bucket),
            ("Generated", f"{timezone.now():%Y-%m-%d %H:%M} UTC")]


def write_csv(table: ExportTable, out: IO[bytes], progress: Progress = None) -> int:
    """One header row of the answer's field names, then one row per bucket (UTF-8)."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    writer = csv.writer(text)
    writer.writerow(table.first())
    count = 0
    for row in table.iter():
        writer.writerow([_cell(v) for v in row])
        count += 1
        if progress and count % PROGRESS_EVERY == 0:
            progress(count)
    text.flush()
    text.detach()
    return count


def write_xlsx(table: ExportTable, out: IO[bytes], progress: Progress = None) -> int:
    """A "Data" sheet (numbers as numbers, times as the API's ISO strings with their offset:
    Excel has no timezone-aware times) and an "About" sheet with the heading facts."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    data = book.create_sheet("Data")
    bold = Font(bold=True)
    header = []
    for name in table.first():
        cell = WriteOnlyCell(data, value=name)
        cell.font = bold
        header.append(cell)
    data.append(header)
    count = 0
    for row in table.iter():
        data.append([_cell(v) for v in row])
        count += 1
        if progress and count % PROGRESS_EVERY == 0:
            progress(count)
    sheet = book.create_sheet("About")
    sheet.append([table.title])
    for key, value in about(table):
        sheet.append([key, value])
    sheet.append(["Rows", count])
    book.save(out)
    return count


def _chart(columns: list[str], series: dict[str, list[float]], width: float) -> Any:
    """A line chart (reportlab.graphics) of the numeric columns over the buckets."""
    from reportlab.graphics.charts.legends import Legend
    from reportlab.graphics.charts.lineplots import LinePlot
    from reportlab.graphics.shapes import Drawing
    from reportlab.lib import colors

    palette = [colors.HexColor(c) for c in ("#2563eb", "#dc2626", "#16a34a", "#9333ea",
                                            "#ea580c", "#0891b2")]
    names = [c for c in columns if c in series][:len(palette)]
    drawing = Drawing(width, 190)
    plot = LinePlot()
    plot.x, plot.y, plot.width, plot.height = 40, 40, width - 60, 130
    # A long series is thinned to about 1,500 points per line (the table has every row).
    step = max(1, max((len(series[n]) for n in names), default=0) // 1500)
    plot.data = [[(i, v) for i, v in enumerate(series[n]) if i % step == 0] or [(0, 0)]
                 for n in names] or [[(0, 0)]]
    for index, _ in enumerate(names):
        plot.lines[index].strokeColor = palette[index]
        plot.lines[index].strokeWidth = 0.8
    plot.xValueAxis.labels.fontSize = 6
    plot.yValueAxis.labels.fontSize = 6
    plot.xValueAxis.valueMin = 0
    plot.yValueAxis.valueMin = 0
    drawing.add(plot)
    legend = Legend()
    legend.x, legend.y = 40, 12
    legend.fontSize = 7
    legend.alignment = "right"
    legend.columnMaximum = 1
    legend.colorNamePairs = [(palette[i], n) for i, n in enumerate(names)]
    drawing.add(legend)
    return drawing


def write_pdf(table: ExportTable, out: IO[bytes], progress: Progress = None) -> int:
    """A4 landscape: title, the heading facts, a line chart of the numeric columns, then the
    table of every row (header repeated on each page)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import LongTable, Paragraph, SimpleDocTemplate, Spacer, TableStyle

    styles = getSampleStyleSheet()
    page = landscape(A4)
    doc = SimpleDocTemplate(out, pagesize=page, leftMargin=12 * mm, rightMargin=12 * mm,
                            topMargin=12 * mm, bottomMargin=12 * mm, title=table.title,
                            author=table.site_name)
    columns = table.first()
    series: dict[str, list[float]] = {}
    pieces: list[Any] = []
    body: list[list[str]] = []
    # Many columns (occupancy with dwell and quality) get a smaller type to fit the page.
    size = 7.0 if len(columns) <= 8 else max(4.0, 7.0 * 8 / len(columns))
    style = TableStyle([
        ("FONT", (0, 0), (-1, -1), "Helvetica", size),
        ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", size),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#cbd5e1")),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e2e8f0")),
        ("ALIGN", (0, 1), (-1, -1), "RIGHT"),
        ("TOPPADDING", (0, 0), (-1, -1), 1), ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
    ])

    def flush() -> None:
        if body:
            pieces.append(LongTable([columns, *body], repeatRows=1, style=style))
            body.clear()

    count = 0
    for row in table.iter():
        body.append(["" if v is None else str(v) for v in row])
        for name, value in zip(columns, row, strict=True):
            if _numeric(value) and not name.startswith("total"):
                series.setdefault(name, []).append(float(value))
        count += 1
        if len(body) >= PDF_TABLE_PIECE:
            flush()
        if progress and count % PROGRESS_EVERY == 0:
            progress(count)
    flush()
    width = page[0] - 24 * mm
    story: list[Any] = [Paragraph(_escape(table.title), styles["Title"])]
    for key, value in about(table):
        story.append(Paragraph(f"<b>{key}:</b> {_escape(value)}", styles["Normal"]))
    story += [Spacer(1, 4 * mm), _chart(columns, series, width), Spacer(1, 4 * mm)]
    story += pieces or [Paragraph("No rows in this range.", styles["Normal"])]
    doc.build(story)
    return count


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


WRITERS = {"csv": write_csv, "xlsx": write_xlsx, "pdf": write_pdf}


def export_write(table: ExportTable, fmt: str, out: IO[bytes], progress: Progress = None) -> int:
    """Write ``table`` as ``fmt`` (csv, xlsx, pdf) to ``out``; returns the rows written."""
    if fmt not in WRITERS:
        raise ValueError(f"Unknown format {fmt!r}: use one of {', '.join(FORMATS)}.")
    return WRITERS[fmt](table, out, progress)

