"""The monev recap as files: CSV, an XLSX laid out like a bureau's report, and a PNG chart."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MEDIA_TYPES = {"json": "application/json", "csv": "text/csv", "xlsx": XLSX_TYPE, "png": "image/png"}

MONTHS = (
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
)
QUARTERS = ("I", "II", "III", "IV")
KINDS = {
    "complaint": "Pengaduan",
    "information_request": "Permintaan informasi",
    "suggestion": "Saran/masukan",
}
CHANNELS = {
    "walk_in": "Tatap muka",
    "phone": "Telepon (HaloBPOM 1500533)",
    "email": "Email",
    "web": "Situs web",
    "sms": "SMS",
    "whatsapp": "WhatsApp",
    "social_media": "Media sosial",
    "mobile_app": "Aplikasi mobile",
    "letter": "Surat",
    "fax": "Faksimili",
    "live_chat": "Live chat",
    "suggestion_box": "Kotak saran",
    "wbs": "Whistle-blowing system (WBS)",
    "lapor": "SP4N-LAPOR!",
    "mobile_unit": "Mobil pengaduan",
}
CATEGORIES = {
    "obat": "Obat",
    "obat_tradisional": "Obat tradisional",
    "suplemen_kesehatan": "Suplemen kesehatan",
    "kosmetik": "Kosmetik",
    "pangan_olahan": "Pangan olahan",
    "yanblik_registrasi": "Pelayanan publik: registrasi",
    "yanblik_sertifikasi": "Pelayanan publik: sertifikasi",
    "yanblik_sistem_elektronik": "Pelayanan publik: sistem elektronik",
    "yanblik_petugas": "Pelayanan publik: petugas",
    "etika_pegawai": "Etika/disiplin pegawai",
    "lainnya": "Lainnya",
}
OUTCOMES = {
    "answered": "Dijawab",
    "substantiated": "Terbukti",
    "not_substantiated": "Tidak terbukti",
    "forwarded": "Diteruskan ke instansi lain",
    "withdrawn": "Dicabut pelapor",
    "archived_missing_data": "Diarsipkan (data tidak dilengkapi)",
}
STAGES = {
    "acknowledge": "Verifikasi/tanggapan awal",
    "route": "Disposisi",
    "first_follow_up": "Tindak lanjut pertama",
    "close": "Penyelesaian",
}
TOTALS = {
    "received": "Diterima (termasuk duplikat)",
    "duplicates": "Duplikat (dihitung satu kali)",
    "cases": "Jumlah kasus",
    "complaints": "Pengaduan",
    "information_requests": "Permintaan informasi",
    "suggestions": "Saran/masukan",
    "followed_up": "Ditindaklanjuti",
    "closed": "Selesai",
    "open": "Dalam proses",
}


def period_label(period: dict[str, Any]) -> str:
    if period["quarter"] is not None:
        return f"Triwulan {QUARTERS[period['quarter'] - 1]} Tahun {period['year']}"
    return f"{MONTHS[period['month'] - 1]} {period['year']}"


def _date_label(iso: str) -> str:
    day = datetime.fromisoformat(iso)
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def _generated_label(iso: str) -> str:
    moment = datetime.fromisoformat(iso).astimezone(ZoneInfo("Asia/Jakarta"))
    return moment.strftime("%Y-%m-%d %H:%M WIB")


def filename(report: dict[str, Any], suffix: str) -> str:
    unit = f"-{report['unit']}" if report["unit"] else ""
    return f"monev-{report['period']['key']}{unit}.{suffix}"


# --- CSV ---------------------------------------------------------------------------------------


def _csv_rows(report: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """Long form (section, item, value): one table any spreadsheet or script can pivot."""
    yield "report", "title", report["title"]
    yield "report", "period", report["period"]["key"]
    yield "report", "first_day", report["period"]["first_day"]
    yield "report", "last_day", report["period"]["last_day"]
    yield "report", "unit", report["unit"] or "*"
    yield "report", "generated_at", report["generated_at"]
    yield "report", "position", report["position"]
    yield "report", "excluded_restricted", report["excluded_restricted"]
    for key, value in report["totals"].items():
        yield "totals", key, value
    for section in ("by_kind", "by_channel", "by_category", "by_outcome", "by_unit"):
        for key, value in report[section].items():
            yield section, key, value
    for row in report["by_month"]:
        for key, value in row.items():
            if key != "month":
                yield f"by_month.{row['month']}", key, value
    for stage, figures in report["sla"].items():
        for key, value in figures.items():
            yield f"sla.{stage}", key, value
    for stage, figures in report["working_days"].items():
        for key, value in figures.items():
            yield f"working_days.{stage}", key, value
    for row in report["top_categories"]:
        yield "top_categories", row["category"], row["count"]
    for row in report.get("by_template", []):
        section = f"by_template.{row['template_id']}@{row['version']}"
        if row.get("title") is not None:
            yield section, "title", row["title"]
        yield section, "uses", row["uses"]
        yield section, "cases", row["cases"]
    for scope, figures in (report.get("ikm") or {}).items():
        for key, value in (figures or {}).items():
            if key != "unit":
                yield f"ikm.{scope}", key, value
    for note in report["notes"]:
        yield "notes", "note", note


def to_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(("section", "item", "value"))
    for section, item, value in _csv_rows(report):
        writer.writerow((section, item, "" if value is None else value))
    return out.getvalue()


# --- XLSX --------------------------------------------------------------------------------------


def to_xlsx(report: dict[str, Any]) -> bytes:
    """One sheet, top to bottom: heading block, then lettered sections each with a header row."""
    # openpyxl is imported here so the API starts without it; only report downloads need it.
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Rekap"
    bold = Font(bold=True)
    header_fill = PatternFill("solid", fgColor="D9E1F2")
    thin = Side(style="thin", color="808080")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    percent = "0.0%"
    row = 1

    def line(*values: Any, font: Font | None = None, formats: dict[int, str] | None = None) -> None:
        nonlocal row
        for column, value in enumerate(values, start=1):
            cell = sheet.cell(row=row, column=column, value=value)
            if font is not None:
                cell.font = font
            if formats and column in formats and value is not None:
                cell.number_format = formats[column]
        row += 1

    def table(
        title: str,
        headers: tuple[str, ...],
        rows: list[tuple[Any, ...]],
        formats: dict[int, str] | None = None,
    ) -> None:
        nonlocal row
        row += 1
        line(title, font=Font(bold=True, size=12))
        for column, header in enumerate(headers, start=1):
            cell = sheet.cell(row=row, column=column, value=header)
            cell.font = bold
            cell.fill = header_fill
            cell.border = box
            cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        row += 1
        for values in rows:
            for column, value in enumerate(values, start=1):
                cell = sheet.cell(row=row, column=column, value="-" if value is None else value)
                cell.border = box
                if formats and column in formats and value is not None:
                    cell.number_format = formats[column]
            row += 1

    period = report["period"]
    sheet.cell(row=1, column=1, value=report["title"]).font = Font(bold=True, size=14)
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=5)
    row = 3
    line("Periode", period_label(period))
    line(
        "Rentang tanggal",
        f"{_date_label(period['first_day'])} s.d. {_date_label(period['last_day'])}",
    )
    line("Unit", report["unit"] or "Seluruh unit (tingkat badan)")
    line("Dibuat", _generated_label(report["generated_at"]))
    line("Posisi log peristiwa", "-" if report["position"] is None else report["position"])
    for r in range(3, row):
        sheet.cell(row=r, column=1).font = bold

    totals = report["totals"]
    cases = totals["cases"]
    counted_apart = ("received", "duplicates", "cases")
    summary = [
        (label, totals[key], totals[key] / cases if cases and key not in counted_apart else None)
        for key, label in TOTALS.items()
    ]
    table("A. Ringkasan", ("Uraian", "Jumlah", "Persentase"), summary, {3: percent})
    table(
        "B. Menurut Jenis",
        ("Jenis", "Jumlah", "Persentase"),
        _shares(report["by_kind"], KINDS, cases),
        {3: percent},
    )
    table(
        "C. Menurut Kanal",
        ("Kanal", "Jumlah", "Persentase"),
        _shares(report["by_channel"], CHANNELS, cases),
        {3: percent},
    )
    table(
        "D. Menurut Kategori",
        ("Kategori", "Jumlah", "Persentase"),
        _shares(report["by_category"], CATEGORIES, cases),
        {3: percent},
    )
    table(
        "E. Menurut Bulan",
        ("Bulan", *KINDS.values(), "Jumlah"),
        [
            (
                _month_label(m["month"]),
                *(m[kind] for kind in KINDS),
                m["total"],
            )
            for m in report["by_month"]
        ],
    )
    table(
        "F. Ketepatan Waktu Layanan (SLA)",
        ("Tahap", "Tepat waktu", "Terlambat", "Belum selesai", "% tepat waktu"),
        [
            (STAGES[stage], s["met"], s["missed"], s["open"], s["share_met"])
            for stage, s in report["sla"].items()
        ],
        {5: percent},
    )
    table(
        "G. Lama Layanan (hari kerja sejak diterima)",
        ("Tahap", "Jumlah kasus", "Median", "Persentil ke-90"),
        [
            (STAGES[stage], d["count"], d["median"], d["p90"])
            for stage, d in report["working_days"].items()
        ],
        {3: "0.0"},
    )
    table(
        "H. Lima Kategori Terbanyak",
        ("Peringkat", "Kategori", "Jumlah", "Persentase"),
        [
            (t["rank"], CATEGORIES.get(t["category"], t["category"]), t["count"], t["share"])
            for t in report["top_categories"]
        ],
        {4: percent},
    )
    table(
        "I. Menurut Hasil Penyelesaian",
        ("Hasil", "Jumlah"),
        [(OUTCOMES.get(k, k), v) for k, v in report["by_outcome"].items()],
    )
    table(
        "J. Menurut Unit Penanganan",
        ("Unit", "Jumlah"),
        [(k, v) for k, v in report["by_unit"].items()] or [("-", 0)],
    )
    ikm = report.get("ikm") or {}
    if ikm:
        table(
            "K. Indeks Kepuasan Masyarakat (IKM)",
            ("Cakupan", "Responden", "Nilai IKM", "Mutu", "Kinerja"),
            [
                (
                    "Unit " + f["unit"] if f.get("unit") else "Seluruh unit (tingkat badan)",
                    f["respondents"],
                    f["ikm"],
                    f["grade"],
                    f["grade_label"],
                )
                for f in (ikm.get("unit"), ikm.get("agency"))
                if f is not None
            ],
            {3: "0.00"},
        )
    table(
        "L. Penggunaan Referensi Standar Jawaban",
        ("Referensi (judul)", "Versi", "Dipakai", "Jumlah kasus", "ID"),
        [
            (t.get("title") or "-", t["version"], t["uses"], t["cases"], t["template_id"])
            for t in report.get("by_template", [])
        ]
        or [("-", None, 0, 0, None)],
    )
    row += 1
    line("Catatan", font=Font(bold=True, size=12))
    if report["excluded_restricted"]:
        line(
            f"{report['excluded_restricted']} kasus WBS/etika pegawai tidak ditampilkan "
            "(tidak termasuk dalam angka mana pun) karena peran Anda tidak berhak melihatnya."
        )
    line("Kasus dihitung pada periode tanggal diterima, menurut zona waktu unit penerima.")
    line("Duplikat dihitung satu kali (hanya pada baris Duplikat).")
    line("% tepat waktu = tepat waktu / (tepat waktu + terlambat); tahap belum selesai tidak ikut.")
    line("Persentil ke-90: metode nearest-rank (nilai pada peringkat ceil(0,9 x n)).")

    for column, width in zip("ABCDE", (44, 18, 18, 16, 16), strict=True):
        sheet.column_dimensions[column].width = width
    sheet.sheet_view.showGridLines = False
    sheet.print_options.gridLines = False
    sheet.page_setup.orientation = "portrait"
    sheet.page_setup.fitToWidth = 1
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _shares(counts: dict[str, int], labels: dict[str, str], whole: int) -> list[tuple[Any, ...]]:
    return [(labels.get(k, k), n, n / whole if whole else None) for k, n in counts.items()]


def _month_label(key: str) -> str:
    year, month = key.split("-")
    return f"{MONTHS[int(month) - 1]} {year}"


# --- PNG ---------------------------------------------------------------------------------------


def to_png(report: dict[str, Any]) -> bytes:
    """Cases per month by kind (bars), and the share of each SLA stage done on time."""
    # Imported here, and drawn on an Agg canvas without pyplot: no global state, thread-safe.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 4.8), dpi=100)
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    months = report["by_month"]
    width = 0.8 / len(KINDS)
    positions = range(len(months))
    for index, (kind, label) in enumerate(KINDS.items()):
        bars = left.bar(
            [p + (index - (len(KINDS) - 1) / 2) * width for p in positions],
            [m[kind] for m in months],
            width,
            label=label,
        )
        left.bar_label(bars, fontsize=8)
    left.set_xticks(list(positions), [_month_label(m["month"]) for m in months])
    left.set_ylabel("Jumlah kasus")
    left.set_title("Kasus per bulan menurut jenis")
    left.legend(fontsize=8)
    left.yaxis.get_major_locator().set_params(integer=True)

    stages = list(report["sla"].items())
    shares = [100 * (s["share_met"] or 0) for _, s in stages]
    bars = right.bar([STAGES[name] for name, _ in stages], shares, color="#4C9A2A")
    right.bar_label(
        bars,
        labels=[
            "-" if s["share_met"] is None else f"{100 * s['share_met']:.0f}%" for _, s in stages
        ],
        fontsize=8,
    )
    right.set_ylim(0, 110)
    right.set_ylabel("% tepat waktu")
    right.set_title("Tahap selesai dalam SLA")
    right.tick_params(axis="x", labelsize=8)
    for label in right.get_xticklabels():
        label.set(rotation=15, horizontalalignment="right")

    unit = report["unit"] or "Seluruh unit"
    figure.suptitle(f"{report['title']} - {period_label(report['period'])} - {unit}", fontsize=11)
    figure.tight_layout()
    if report["excluded_restricted"]:
        figure.text(
            0.01,
            0.01,
            f"{report['excluded_restricted']} kasus WBS/etika pegawai tidak ditampilkan.",
            fontsize=8,
            style="italic",
        )
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


def render(report: dict[str, Any], fmt: str) -> bytes:
    """The report in ``fmt`` (json, csv, xlsx or png)."""
    if fmt == "json":
        return json.dumps(report, ensure_ascii=False, indent=2).encode()
    if fmt == "csv":
        return to_csv(report).encode("utf-8")
    if fmt == "xlsx":
        return to_xlsx(report)
    if fmt == "png":
        return to_png(report)
    raise ValueError(f"no renderer for {fmt!r}; known: {sorted(MEDIA_TYPES)}")
