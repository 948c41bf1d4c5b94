"""The console's and the API's link to the broadcast service (bot.broadcast.service, opened once per web
process by the admin lifespan in bot.admin.context), and the translation of its errors for staff
(Indonesian pages) and scripts (HTTP statuses).

The service audits every campaign action itself (who, what, when, audience size), so the callers here pass
`actor` and never write those audit entries twice.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import HTTPException, Request

from bot.admin.context import admin_of
from bot.broadcast.model import (
    BroadcastError,
    CampaignInvalid,
    CampaignNotFound,
    ChannelUnavailable,
    InvalidTransition,
)
from bot.broadcast.quiet import QuietHours
from bot.broadcast.service import BroadcastService
from bot.outbound import SendError


def service_of(request: Request) -> BroadcastService:
    service = admin_of(request).broadcast
    assert service is not None, "the admin lifespan has not run"
    return service


def quiet_hours(request: Request) -> QuietHours:
    return QuietHours.from_config(service_of(request).config)


def quiet_label(quiet: QuietHours) -> str:
    if not quiet.enabled:
        return "Tidak ada jam tenang: pesan bisa terkirim kapan saja."
    return (
        f"Jam tenang {quiet.start:%H.%M}–{quiet.end:%H.%M} WIB: tidak ada pesan yang dikirim pada jam ini. "
        "Pengiriman yang sedang berjalan berhenti sebentar, lalu lanjut otomatis setelahnya."
    )


# -- errors for staff ------------------------------------------------------------------------------------
_PROBLEMS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^the campaign needs a name$"), "Beri nama kampanye."),
    (re.compile(r"^the name is longer than (\d+) characters$"), "Nama kampanye maksimal {0} karakter."),
    (re.compile(r"^the text is empty$"), "Isi pesan masih kosong."),
    (re.compile(r"^the text is longer than (\d+) characters$"), "Pesan maksimal {0} karakter."),
    (
        re.compile(r"^unknown field \{(.*)\} in the text$"),
        "Kolom {{{0}}} tidak dikenal. Yang bisa dipakai: {{nama}}.",
    ),
    (re.compile(r"^the image must be an http\(s\) URL$"), "Alamat gambar harus diawali https://."),
    (re.compile(r"^the button title must have 1 to (\d+) characters$"), "Tulisan tombol 1–{0} karakter."),
    (re.compile(r"^the button payload must look like"), "Aksi tombol tidak sah."),
    (
        re.compile(r"^the WhatsApp template must be a ContentSid"),
        "ContentSid template WhatsApp harus berbentuk HX diikuti 32 karakter heksadesimal.",
    ),
    (re.compile(r"^template variables need a template$"), "Variabel template perlu ContentSid template."),
    (re.compile(r"^template variable '?(.*?)'? must be a number$"), "Nomor variabel template harus angka."),
    (
        re.compile(r"^unknown field \{(.*)\} in template variable (.*)$"),
        "Kolom {{{0}}} di variabel {1} tidak dikenal.",
    ),
    (re.compile(r"^unknown channel '?(.*?)'?$"), "Saluran tidak dikenal."),
    (re.compile(r"^unknown registration status"), "Status pendaftaran tidak dikenal."),
]

ACTION_LABELS = {
    "edit": "diubah",
    "schedule": "dijadwalkan",
    "start": "dimulai",
    "pause": "dijeda",
    "resume": "dilanjutkan",
    "cancel": "dibatalkan",
}


def problem_label(problem: str) -> str:
    """A service problem (English) in plain Indonesian; unknown ones are shown as they are."""
    for pattern, label in _PROBLEMS:
        match = pattern.search(problem)
        if match:
            return label.format(*match.groups())
    return problem


def error_label(exc: BaseException) -> str:
    """What to tell a staff member when the service refused or failed."""
    from bot.admin.campaign_views import STATUS_LABELS

    if isinstance(exc, CampaignInvalid):
        return " ".join(problem_label(p) for p in exc.problems)
    if isinstance(exc, CampaignNotFound):
        return "Kampanye tidak ditemukan."
    if isinstance(exc, InvalidTransition):
        status = STATUS_LABELS.get(exc.status, exc.status).lower()
        action = ACTION_LABELS.get(exc.action, exc.action)
        return f"Kampanye berstatus {status}, jadi tidak bisa {action}."
    if isinstance(exc, ChannelUnavailable):
        return "Saluran itu belum diatur di server ini."
    if isinstance(exc, SendError):
        return "Pesan uji gagal terkirim. Periksa ID chat atau nomor Anda, lalu coba lagi."
    return "Terjadi kesalahan. Coba lagi."


# -- errors for scripts ----------------------------------------------------------------------------------
def http_error(exc: BroadcastError | SendError | ValueError) -> HTTPException:
    """The HTTP answer for a service error (the API's documented error statuses)."""
    if isinstance(exc, CampaignNotFound):
        return HTTPException(404, str(exc))
    if isinstance(exc, CampaignInvalid):
        detail: Any = {"message": "the campaign is not valid", "problems": exc.problems}
        return HTTPException(422, detail)
    if isinstance(exc, InvalidTransition):
        return HTTPException(409, str(exc))
    if isinstance(exc, ChannelUnavailable):
        return HTTPException(409, str(exc))
    if isinstance(exc, SendError):
        return HTTPException(502, f"the channel refused the test message ({exc.code or 'error'})")
    return HTTPException(422, str(exc))
