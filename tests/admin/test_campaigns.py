"""Campaigns through the console and the API, over the broadcast service: compose, previews, the audience
count with each filter, validation in plain Indonesian, the lifecycle and its errors, and the audit trail
(who, what, when, audience size). Sending itself is the browser test's (with a worker and a Telegram API)."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from bot.admin import staff as accounts
from bot.admin.forms import ComposeForm
from bot.clock import WIB
from storage.models import AuditEntry
from storage.repo import subscribers
from tests.admin.conftest import Console, SignedIn

TEXT = "Halo {nama}! Iuran BPJS Ketenagakerjaan mulai Rp16.800 per bulan."


@pytest.fixture(scope="module")
def audience(console: Console) -> None:
    """12 subscribers: telegram/whatsapp, two regions, three occupations, two sources; 1 opted out."""
    jobs = ["ojol", "petani", "nelayan"]
    for i in range(12):
        channel = "telegram" if i % 2 == 0 else "whatsapp"
        chat_id = str(8_000_000 + i) if channel == "telegram" else f"+628130000{i:03d}"
        subscribers.opt_in(
            console.db,
            channel=channel,
            chat_id=chat_id,
            source="pasar" if i < 6 else "chat",
            region="Kabupaten Bogor" if i < 8 else "Kota Bandung",
            occupation=jobs[i % 3],
            at=datetime(2026, 11, 1 + i, 9, tzinfo=WIB),
        )
    subscribers.opt_out(console.db, channel="telegram", chat_id="8000010", source="chat")


@pytest.fixture(scope="module")
def script(console: Console) -> SignedIn:
    """A broadcaster's script: bearer token, no cookie."""
    token = accounts.issue_token(console.db, actor="test", username="broadcaster")
    client = console.anonymous()
    client.headers["Authorization"] = f"Bearer {token}"
    return SignedIn(client, "", "broadcaster")


def _api(script: SignedIn, method: str, path: str, json: object = None) -> httpx.Response:
    return script.client.request(method, "/admin/api/v1" + path, json=json)


@pytest.mark.usefixtures("audience")
@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, 11),
        ({"channels": ["telegram"]}, 5),
        ({"regions": ["kabupaten bogor"]}, 8),
        ({"occupations": ["petani"]}, 3),  # i = 1, 4, 7 (10 opted out)
        ({"sources": ["pasar"]}, 6),
        ({"subscribed_since": "2026-11-09T00:00:00+07:00"}, 3),
        ({"channels": ["whatsapp"], "regions": ["Kota Bandung"]}, 2),
        ({"registration": ["none"]}, 11),
        ({"registration": ["active"]}, 0),
    ],
)
def test_the_audience_count_follows_every_filter(
    script: SignedIn, filters: dict[str, object], expected: int
) -> None:
    counted = _api(script, "POST", "/audience/count", filters)
    assert counted.status_code == 200, counted.text
    assert counted.json()["count"] == expected
    assert sum(counted.json()["by_channel"].values()) == expected


def test_the_compose_form_counts_like_the_api(
    console: Console, signed_in: dict[str, SignedIn], audience: None
) -> None:
    form = ComposeForm.parse(
        {"region": "Kabupaten Bogor, Kota Bandung", "occupation": "ojol", "subscribed_since": "2026-11-03"}
    )
    assert form.audience().regions == ("Kabupaten Bogor", "Kota Bandung")
    assert form.audience().subscribed_since == datetime(2026, 11, 3, tzinfo=WIB)
    assert ComposeForm.of(form.draft()).region == "Kabupaten Bogor, Kota Bandung"  # round trip
    page = signed_in["broadcaster"].client.get("/admin/campaigns/new")
    assert page.status_code == 200
    assert "data-audience-count>11<" in page.text.replace(" ", "")


def test_a_campaign_through_the_api(console: Console, script: SignedIn, audience: None) -> None:
    body = {
        "name": "Pengingat iuran",
        "text": TEXT,
        "button": {"title": "Daftar sekarang"},
        "template": {"sid": "HX" + "a" * 32, "variables": {"1": "{nama}"}},
        "audience": {"channels": ["whatsapp"], "regions": ["Kabupaten Bogor"]},
    }
    made = _api(script, "POST", "/campaigns", body)
    assert made.status_code == 201, made.text
    campaign = made.json()
    assert campaign["status"] == "draft" and campaign["button"]["payload"] == "/register"
    cid = campaign["id"]

    preview = _api(script, "GET", f"/campaigns/{cid}/preview", None).json()
    assert set(preview) == {"whatsapp"}  # the audience is WhatsApp only
    assert preview["whatsapp"]["text"]["text"].startswith("Halo Sobat Pekerja!")
    assert preview["whatsapp"]["template"]["variables"] == {"1": "Sobat Pekerja"}
    named = script.client.get(f"/admin/api/v1/campaigns/{cid}/preview", params={"name": "SITI RAHMA"}).json()
    assert named["whatsapp"]["text"]["text"].startswith("Halo Siti Rahma!")

    body["name"] = "Pengingat iuran November"
    assert _api(script, "PUT", f"/campaigns/{cid}", body).json()["name"] == "Pengingat iuran November"
    test = _api(script, "POST", f"/campaigns/{cid}/test-send", {"channel": "telegram", "chat_id": "123"})
    assert test.status_code == 409  # Telegram is not configured on this server
    assert _api(script, "POST", f"/campaigns/{cid}/resume").status_code == 409  # a draft cannot resume
    started = _api(script, "POST", f"/campaigns/{cid}/start")
    assert started.status_code == 200 and started.json()["status"] == "running"
    assert _api(script, "POST", f"/campaigns/{cid}/start").status_code == 409
    assert _api(script, "PUT", f"/campaigns/{cid}", body).status_code == 409  # no edits once it runs
    assert _api(script, "POST", f"/campaigns/{cid}/pause").json()["status"] == "paused"
    assert _api(script, "POST", f"/campaigns/{cid}/resume").json()["status"] == "running"
    assert _api(script, "POST", f"/campaigns/{cid}/cancel").json()["status"] == "cancelled"
    progress = _api(script, "GET", f"/campaigns/{cid}/progress").json()
    assert progress["status"] == "cancelled" and progress["total"] == progress["done"]
    results = _api(script, "GET", f"/campaigns/{cid}/results").json()
    assert results["progress"]["campaign_id"] == cid and "registrations_completed_after" in results

    with console.db.session() as session:
        rows = session.execute(
            select(AuditEntry.actor, AuditEntry.action, AuditEntry.details).where(
                AuditEntry.target == f"campaign:{cid}"
            )
        ).all()
    actions = [action for _, action, _ in rows]
    assert actions == [
        "campaign.create",
        "campaign.update",
        "campaign.start",
        "campaign.pause",
        "campaign.resume",
        "campaign.cancel",
    ]
    assert all(actor == "broadcaster" for actor, _, _ in rows)
    start = next(details for _, action, details in rows if action == "campaign.start")
    assert start["audience"] == 4  # WhatsApp in Bogor: i = 1, 3, 5, 7


def test_errors_for_scripts(script: SignedIn) -> None:
    assert _api(script, "GET", "/campaigns/999999").status_code == 404
    bad = _api(script, "POST", "/campaigns", {"name": "", "text": "Halo {nomor}", "image_url": "ftp://x"})
    assert bad.status_code == 422
    problems = bad.json()["detail"]["problems"]
    assert "the campaign needs a name" in problems and "unknown field {nomor} in the text" in problems
    assert _api(script, "POST", "/campaigns", {"text": "no name field"}).status_code == 422
    quiet = _api(script, "GET", "/quiet-hours").json()
    assert quiet == {**quiet, "enabled": True, "start": "21:00", "end": "07:00", "timezone": "Asia/Jakarta"}


def test_a_campaign_through_the_console(
    console: Console, signed_in: dict[str, SignedIn], audience: None
) -> None:
    budi = signed_in["broadcaster"]
    empty = budi.post("/admin/campaigns", {"name": "", "text": "Halo {alamat}"})
    assert empty.status_code == 400
    assert "Beri nama kampanye." in empty.text and "Kolom {alamat} tidak dikenal." in empty.text
    made = budi.post(
        "/admin/campaigns",
        {
            "name": "Masuk desa",
            "text": TEXT,
            "with_button": "1",
            "button_title": "Daftar sekarang",
            "channel": "telegram",
        },
    )
    assert made.status_code == 303
    page_url = made.headers["location"].split("?")[0]
    cid = int(page_url.rsplit("/", 1)[1])
    page = budi.client.get(page_url)
    assert "Kirim sekarang ke 5 penerima" in page.text and "Halo Sobat Pekerja!" in page.text
    edit = budi.client.get(f"{page_url}/edit")
    assert edit.status_code == 200 and 'value="Masuk desa"' in edit.text and "checked" in edit.text
    preview = budi.post(
        "/admin/campaigns/preview", {"text": "Halo {nama}, apa kabar?", "channel": "whatsapp"}
    )
    assert (
        preview.status_code == 200
        and "Halo Sobat Pekerja, apa kabar?" in preview.text
        and "Telegram" not in preview.text
    )
    past = budi.post(f"{page_url}/schedule", {"at": "2020-01-01T09:00"})
    assert past.status_code == 400 and "Waktu kirim harus di masa depan." in past.text
    at = (console.clock() + timedelta(days=1)).astimezone(WIB).strftime("%Y-%m-%dT%H:%M")
    scheduled = budi.post(f"{page_url}/schedule", {"at": at})
    assert scheduled.status_code == 303
    page = budi.client.get(page_url)
    assert "Terjadwal" in page.text and "Ubah jadwal" in page.text
    assert budi.post(f"{page_url}/resume").status_code == 409
    assert "tidak bisa dilanjutkan" in budi.post(f"{page_url}/resume").text
    assert budi.post(f"{page_url}/cancel").status_code == 303
    listing = budi.client.get("/admin/campaigns?status=cancelled")
    assert "Masuk desa" in listing.text
    assert "Masuk desa" not in budi.client.get("/admin/campaigns?status=draft").text
    viewer = signed_in["viewer"].client.get(page_url)
    assert viewer.status_code == 200 and "Kirim uji" not in viewer.text and "Batalkan" not in viewer.text
    with console.db.session() as session:
        scheduled_at = session.scalar(
            select(AuditEntry.details).where(
                AuditEntry.target == f"campaign:{cid}", AuditEntry.action == "campaign.schedule"
            )
        )
    assert scheduled_at and scheduled_at["at"].startswith(at)  # WIB, as typed
