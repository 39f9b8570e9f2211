"""The IKM report as files: CSV (long form) and an XLSX laid out like a unit's IKM recap."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from interfaces.reports_render import QUARTERS

ELEMENT_LABELS = {
    "persyaratan": "Persyaratan",
    "sistem_mekanisme_prosedur": "Sistem, Mekanisme, dan Prosedur",
    "waktu_penyelesaian": "Waktu Penyelesaian",
    "biaya_tarif": "Biaya/Tarif",
    "produk_spesifikasi_jenis_pelayanan": "Produk Spesifikasi Jenis Pelayanan",
    "kompetensi_pelaksana": "Kompetensi Pelaksana",
    "perilaku_pelaksana": "Perilaku Pelaksana",
    "penanganan_pengaduan_saran_masukan": "Penanganan Pengaduan, Saran dan Masukan",
    "sarana_prasarana": "Sarana dan Prasarana",
}


def period_key(report: dict[str, Any]) -> str:
    quarter = report["quarter"]
    return f"{report['year']}-Q{quarter}" if quarter is not None else str(report["year"])


def period_label(report: dict[str, Any]) -> str:
    quarter = report["quarter"]
    if quarter is None:
        return f"Tahun {report['year']}"
    return f"Triwulan {QUARTERS[quarter - 1]} Tahun {report['year']}"


def ikm_filename(report: dict[str, Any], suffix: str) -> str:
    unit = f"-{report['unit']}" if report["unit"] else ""
    return f"ikm-{period_key(report)}{unit}.{suffix}"


def _csv_rows(report: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
    yield "report", "title", report["title"]
    yield "report", "period", period_key(report)
    yield "report", "unit", report["unit"] or "*"
    yield "report", "generated_at", report["generated_at"]
    yield "report", "position", report["position"]
    yield "report", "excluded_restricted", report["excluded_restricted"]
    yield "ikm", "respondents", report["respondents"]
    yield "ikm", "ikm", report["ikm"]
    yield "ikm", "grade", report["grade"]
    yield "ikm", "grade_label", report["grade_label"]
    yield "ikm", "flagged", report["flagged"]
    yield "ikm", "rounding", report["rounding"]
    for position, element in enumerate(report["elements"]):
        name = element["element"]
        yield f"element.{name}", "order", position + 1
        yield f"element.{name}", "total", element["total"]
        yield f"element.{name}", "nrr", element["nrr"]
        yield f"element.{name}", "weight", report["weights"][position]
    for note in report["notes"]:
        yield "notes", "note", note


def ikm_csv(report: dict[str, Any]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(("section", "item", "value"))
    for section, item, value in _csv_rows(report):
        writer.writerow((section, item, "" if value is None else value))
    return out.getvalue().encode("utf-8")


def ikm_xlsx(report: dict[str, Any]) -> bytes:
    """One sheet: the heading, the nine elements with their NRR and weight, then the index."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "IKM"
    bold = Font(bold=True)
    thin = Side(style="thin", color="808080")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    fill = PatternFill("solid", fgColor="D9E1F2")
    sheet.cell(row=1, column=1, value=report["title"]).font = Font(bold=True, size=14)
    heading = [
        ("Periode", period_label(report)),
        ("Unit", report["unit"] or "Seluruh unit (tingkat badan)"),
        ("Jumlah responden", report["respondents"]),
        ("Posisi log peristiwa", "-" if report["position"] is None else report["position"]),
    ]
    row = 3
    for label, value in heading:
        sheet.cell(row=row, column=1, value=label).font = bold
        sheet.cell(row=row, column=2, value=value)
        row += 1
    row += 1
    headers = ("No", "Unsur pelayanan", "Jumlah nilai", "NRR", "Bobot")
    for column, header in enumerate(headers, start=1):
        cell = sheet.cell(row=row, column=column, value=header)
        cell.font, cell.fill, cell.border = bold, fill, box
        cell.alignment = Alignment(horizontal="center")
    row += 1
    for position, element in enumerate(report["elements"]):
        values = (
            position + 1,
            ELEMENT_LABELS.get(element["element"], element["element"]),
            element["total"],
            "-" if element["nrr"] is None else element["nrr"],
            report["weights"][position],
        )
        for column, value in enumerate(values, start=1):
            cell = sheet.cell(row=row, column=column, value=value)
            cell.border = box
            if column == 4 and element["nrr"] is not None:
                cell.number_format = "0.00"
        row += 1
    row += 1
    summary = [
        ("Nilai IKM (konversi)", "-" if report["ikm"] is None else report["ikm"]),
        ("Mutu pelayanan", report["grade"] or "-"),
        ("Kinerja unit pelayanan", report["grade_label"] or "-"),
        ("Survei dengan nilai 1 (perlu ditinjau)", report["flagged"]),
    ]
    for label, value in summary:
        sheet.cell(row=row, column=1, value=label).font = bold
        cell = sheet.cell(row=row, column=2, value=value)
        if label.startswith("Nilai IKM") and report["ikm"] is not None:
            cell.number_format = "0.00"
        row += 1
    row += 1
    sheet.cell(row=row, column=1, value="Catatan").font = Font(bold=True, size=12)
    notes = [
        "IKM = jumlah (bobot x NRR) x 25, bobot tepat 1/9 per unsur (bukan 0,11) kecuali unit "
        "menetapkan bobot sendiri yang berjumlah tepat 1.",
        "Dihitung dengan pecahan eksak; hanya nilai akhir dibulatkan ke 2 desimal (setengah ke "
        "atas). NRR ditampilkan dibulatkan ke 2 desimal.",
        "Mutu: A (Sangat Baik) 88,31-100; B (Baik) 76,61-88,30; C (Kurang Baik) 65,00-76,60; "
        "D (Tidak Baik) 25,00-64,99.",
        "Survei dihitung pada periode tanggal pengisiannya, menurut zona waktu unit penanganan.",
    ]
    if report["excluded_restricted"]:
        notes.append(
            f"{report['excluded_restricted']} survei kasus WBS/etika pegawai tidak ditampilkan "
            "karena peran Anda tidak berhak melihatnya."
        )
    for note in notes:
        row += 1
        sheet.cell(row=row, column=1, value=note)
    for letter, width in zip("ABCDE", (40, 40, 14, 10, 10), strict=True):
        sheet.column_dimensions[letter].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
