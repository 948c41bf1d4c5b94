"""Rendering helpers shared by the console pages: the template context every page gets (the staff member,
the CSRF token, the navigation), notices after a redirect, and safe redirect targets."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from bot.admin.auth import PageAuth
from bot.admin.context import admin_of
from bot.admin.roles import Permission

# Notices shown after a redirect (?pesan=key). Only known keys are shown, so a crafted link cannot put
# arbitrary text on a staff member's screen.
NOTICES: dict[str, str] = {
    "keluar": "Anda sudah keluar.",
    "tersimpan": "Tersimpan.",
    "staf_ditambah": "Akun staf dibuat.",
    "staf_diubah": "Akun staf diperbarui.",
    "kampanye_dibuat": "Draf kampanye dibuat. Periksa pratinjau dan jumlah penerima.",
    "tes_terkirim": "Pesan uji dikirim ke chat Anda.",
    "dijadwalkan": "Kampanye dijadwalkan.",
    "dimulai": "Pengiriman dimulai.",
    "dijeda": "Pengiriman dijeda.",
    "dilanjutkan": "Pengiriman dilanjutkan.",
    "dibatalkan": "Kampanye dibatalkan.",
}

NAV = (
    ("/admin", "Beranda", Permission.VIEW),
    ("/admin/campaigns", "Kampanye", Permission.VIEW),
    ("/admin/funnel", "Pendaftaran", Permission.VIEW),
    ("/admin/unrecognised", "Pesan tak dikenali", Permission.VIEW),
    ("/admin/staff", "Staf", Permission.MANAGE_STAFF),
    ("/admin/audit", "Log audit", Permission.MANAGE_STAFF),
)


def render(
    request: Request,
    template: str,
    auth: PageAuth | None,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    templates = admin_of(request).templates
    nav = []
    if auth is not None:
        nav = [(href, label) for href, label, perm in NAV if auth.user.can(perm)]
    notice = NOTICES.get(request.query_params.get("pesan", ""))
    response = templates.TemplateResponse(
        request,
        template,
        {
            "auth": auth,
            "user": auth.user if auth else None,
            "csrf": auth.csrf if auth else "",
            "nav": nav,
            "path": request.url.path,
            "notice": notice,
            "Permission": Permission,
            **context,
        },
        status_code=status_code,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def redirect(path: str, *, notice: str | None = None) -> RedirectResponse:
    if notice:
        path += ("&" if "?" in path else "?") + f"pesan={notice}"
    return RedirectResponse(path, status_code=303)


def safe_next(value: str | None) -> str:
    """Only a console path may follow a login (no open redirect to another site)."""
    if not value or not value.startswith("/admin") or value.startswith("//") or "\\" in value:
        return "/admin"
    if value.startswith("/admin/api") or value.startswith("/admin/login"):
        return "/admin"
    return value
