"""The closed vocabularies of a complaint case (kinds, channels, categories, statuses, ...)."""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    COMPLAINT = "complaint"
    INFORMATION_REQUEST = "information_request"
    SUGGESTION = "suggestion"


class Channel(StrEnum):
    WALK_IN = "walk_in"
    PHONE = "phone"
    EMAIL = "email"
    WEB = "web"
    SMS = "sms"
    WHATSAPP = "whatsapp"
    SOCIAL_MEDIA = "social_media"
    MOBILE_APP = "mobile_app"
    LETTER = "letter"
    FAX = "fax"
    LIVE_CHAT = "live_chat"
    SUGGESTION_BOX = "suggestion_box"
    WBS = "wbs"
    LAPOR = "lapor"
    MOBILE_UNIT = "mobile_unit"


class Category(StrEnum):
    OBAT = "obat"
    OBAT_TRADISIONAL = "obat_tradisional"
    SUPLEMEN_KESEHATAN = "suplemen_kesehatan"
    KOSMETIK = "kosmetik"
    PANGAN_OLAHAN = "pangan_olahan"
    YANBLIK_REGISTRASI = "yanblik_registrasi"
    YANBLIK_SERTIFIKASI = "yanblik_sertifikasi"
    YANBLIK_SISTEM_ELEKTRONIK = "yanblik_sistem_elektronik"
    YANBLIK_PETUGAS = "yanblik_petugas"
    ETIKA_PEGAWAI = "etika_pegawai"
    LAINNYA = "lainnya"


class Status(StrEnum):
    RECEIVED = "received"
    ACKNOWLEDGED = "acknowledged"
    ROUTED = "routed"
    IN_FOLLOW_UP = "in_follow_up"
    CLOSED = "closed"
    REOPENED = "reopened"


class FollowUpAction(StrEnum):
    CLARIFICATION = "clarification"
    COORDINATION = "coordination"
    INSPECTION = "inspection"
    INTERIM_ANSWER = "interim_answer"
    REQUEST_DATA = "request_data"
    OTHER = "other"


class Outcome(StrEnum):
    ANSWERED = "answered"
    SUBSTANTIATED = "substantiated"
    NOT_SUBSTANTIATED = "not_substantiated"
    FORWARDED = "forwarded"
    DUPLICATE = "duplicate"
    WITHDRAWN = "withdrawn"
    ARCHIVED_MISSING_DATA = "archived_missing_data"


class Stage(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    ROUTE = "route"
    FIRST_FOLLOW_UP = "first_follow_up"
    CLOSE = "close"


class StageState(StrEnum):
    ON_TRACK = "on_track"
    DUE_SOON = "due_soon"
    BREACHED = "breached"
    PAUSED = "paused"
    MET = "met"
    MISSED = "missed"


class SurveyElement(StrEnum):
    """The nine IKM elements (unsur) of PermenPANRB 14/2017, in the regulation's order."""

    PERSYARATAN = "persyaratan"
    PROSEDUR = "sistem_mekanisme_prosedur"
    WAKTU = "waktu_penyelesaian"
    BIAYA = "biaya_tarif"
    PRODUK = "produk_spesifikasi_jenis_pelayanan"
    KOMPETENSI = "kompetensi_pelaksana"
    PERILAKU = "perilaku_pelaksana"
    PENGADUAN = "penanganan_pengaduan_saran_masukan"
    SARANA = "sarana_prasarana"


SURVEY_ELEMENTS: tuple[SurveyElement, ...] = tuple(SurveyElement)
LOWEST_SCORE, HIGHEST_SCORE = 1, 4

OPEN_STATUSES = frozenset(
    {Status.RECEIVED, Status.ACKNOWLEDGED, Status.ROUTED, Status.IN_FOLLOW_UP, Status.REOPENED}
)
