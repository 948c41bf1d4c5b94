"""The console in a real headless Chromium (Debian's `chromium`, driven by Playwright; never a downloaded
browser), against the real app on PostgreSQL and Redis, a real `jamsosbot worker` process and the local
Telegram Bot API server:

log in → dashboard → compose (live audience count and previews) → save → test send to one's own chat →
send to the audience → watch the live progress bar → read the results (with the campaign's effect) →
the other pages. A screenshot of every page is kept under test-artifacts/admin/ (desktop and phone).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from storage.repo import events, subscribers
from tests.admin.browser_stack import ARTIFACTS, BOGOR, CHROMIUM, OWN_CHAT, Stack, chromium, running_stack
from tests.admin.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]
pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, nlu_cache: Path) -> Iterator[Stack]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")
    with running_stack(tmp_path_factory.mktemp("browser"), nlu_cache) as running:
        yield running


@pytest.fixture(scope="module")
def browser(stack: Stack) -> Iterator[Any]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with chromium() as context:
        yield context


def shot(page: Any, name: str) -> None:
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_compose_count_send_watch_and_read_the_results(stack: Stack, browser: Any) -> None:
    from playwright.sync_api import expect

    page = browser.new_page()
    problems: list[str] = []
    # script errors and CSP violations; the 401/403 pages this test provokes on purpose are not problems,
    # but a failing script, stylesheet or API call is
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "response",
        lambda r: (
            problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and ("/admin/static/" in r.url or "/admin/api/" in r.url or "favicon" in r.url)
            else None
        ),
    )
    page.set_default_timeout(20_000)

    # -- log in ------------------------------------------------------------------------------------------
    page.goto(stack.base_url + "/admin")
    expect(page).to_have_url(re.compile(r"/admin/login\?next=%2Fadmin$"))
    shot(page, "01-login")
    page.get_by_label("Nama pengguna").fill("budi")
    page.get_by_label("Kata sandi").fill("salah-sandinya-123")
    page.get_by_role("button", name="Masuk").click()
    expect(page.get_by_role("alert")).to_contain_text("Nama pengguna atau kata sandi salah.")
    page.get_by_label("Nama pengguna").fill("budi")
    page.get_by_label("Kata sandi").fill(PASSWORD)
    page.get_by_role("button", name="Masuk").click()
    expect(page.get_by_role("heading", name="Beranda")).to_be_visible()
    expect(page.locator(".stat .big").first).to_have_text("39")  # 40 opted in, 1 opted out since
    shot(page, "02-dashboard")

    # -- compose, with the live audience count and previews ---------------------------------------------
    page.get_by_role("link", name="Tulis kampanye").first.click()
    expect(page.get_by_role("heading", name="Tulis kampanye")).to_be_visible()
    expect(page.locator("[data-audience-count]")).to_have_text("39")
    page.get_by_label("Nama kampanye").fill("Diskon iuran, Pasar Cibinong")
    page.get_by_label("Isi pesan").fill(
        "Halo {nama}! Kerja keras, bebas cemas. Lindungi diri dari kecelakaan kerja mulai Rp16.800 per bulan."
    )
    page.get_by_label("Tambah tombol untuk mulai daftar").check()
    telegram_preview = page.locator(".phone.telegram")
    expect(telegram_preview.locator(".bubble")).to_contain_text(
        "Halo Sobat Pekerja! Kerja keras, bebas cemas."
    )
    expect(telegram_preview.locator(".tg-button")).to_have_text("Daftar sekarang")
    expect(page.locator(".phone.whatsapp .bubble").first).to_contain_text(
        'Balas "Daftar sekarang" untuk mulai.'
    )
    page.get_by_label("Saluran").select_option("telegram")
    expect(page.locator(".phone.whatsapp")).to_have_count(0)
    page.get_by_label("Wilayah").fill(BOGOR)
    expect(page.locator("[data-audience-count]")).to_have_text(str(len(stack.bogor)))
    page.get_by_label("Pekerjaan").select_option("petani")
    expect(page.locator("[data-audience-count]")).to_have_text("10")  # every third of the 30, less none
    page.get_by_label("Pekerjaan").select_option("")
    expect(page.locator("[data-audience-count]")).to_have_text(str(len(stack.bogor)))
    shot(page, "03-compose")
    page.get_by_role("button", name="Simpan draf").click()

    # -- the campaign page: test send to one's own chat -------------------------------------------------
    expect(page).to_have_url(re.compile(r"/admin/campaigns/\d+\?pesan=kampanye_dibuat$"))
    campaign_id = int(re.search(r"/campaigns/(\d+)", page.url)[1])  # type: ignore[index]
    expect(page.get_by_role("status")).to_contain_text("Draf kampanye dibuat.")
    expect(page.locator(".audience-count")).to_have_text(str(len(stack.bogor)))
    shot(page, "04-campaign-draft")
    page.get_by_label("ID chat Telegram / nomor WhatsApp").fill(OWN_CHAT)
    page.get_by_role("button", name="Kirim uji").click()
    expect(page.get_by_role("status")).to_contain_text("Pesan uji dikirim ke chat Anda.")
    assert stack.telegram.sent_texts(OWN_CHAT) == [
        "Halo Sobat Pekerja! Kerja keras, bebas cemas. "
        "Lindungi diri dari kecelakaan kerja mulai Rp16.800 per bulan."
    ]
    assert stack.telegram.sent(OWN_CHAT)[0]["reply_markup"]  # the inline button came along
    assert not any(stack.telegram.sent(c) for c in stack.bogor)  # a test send reaches nobody else

    # -- send, and watch the progress bar move -----------------------------------------------------------
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=f"Kirim sekarang ke {len(stack.bogor)} penerima").click()
    expect(page.locator(".pill.status")).to_have_text("Berjalan")
    bar = page.locator("[data-progress] progress")
    page.wait_for_function(
        "() => { const b = document.querySelector('[data-progress] progress');"
        " return b && b.value > 0 && b.value < b.max; }",
        timeout=60_000,
    )
    shot(page, "05-campaign-progress")
    seen_values = {bar.evaluate("b => b.value")}
    expect(page.locator(".pill.status")).to_have_text("Selesai", timeout=120_000)  # the page reloads itself
    seen_values.add(bar.evaluate("b => b.value"))
    assert len(seen_values) == 2  # the bar moved while we watched

    # -- what reached whom -------------------------------------------------------------------------------
    reached = [c for c in stack.bogor if c != stack.blocked]
    for chat_id in reached:
        assert len(stack.telegram.sent(chat_id)) == 1, chat_id
    assert not stack.telegram.sent(stack.opted_out)
    assert not stack.telegram.sent(stack.blocked)
    assert not any(stack.telegram.sent(c) for c in stack.bandung)

    # -- the campaign's effect, then the results page -----------------------------------------------------
    from storage.db import open_database

    db = open_database(stack.settings)
    try:
        for n, chat_id in enumerate(reached[:3]):
            events.append_event(
                db, "registration.started", channel="telegram", chat_id=chat_id, data={"draft_id": f"c-{n}"}
            )
        events.append_event(
            db,
            "registration.submitted",
            channel="telegram",
            chat_id=reached[0],
            data={"draft_id": "c-0", "registration_number": "BPU-C0"},
        )
        subscribers.opt_out(db, channel="telegram", chat_id=reached[5], source="chat")
    finally:
        db.dispose()
    page.reload()
    progress = page.locator("[data-progress]")
    expect(progress.locator("[data-field=sent]")).to_have_text(str(len(reached)))
    expect(progress.locator("[data-field=failed]")).to_have_text("1")
    expect(progress.locator("[data-percent]")).to_have_text("100%")
    effect = page.locator("section", has=page.get_by_role("heading", name="Dampak kampanye"))
    expect(effect).to_contain_text("Mulai daftar")
    expect(effect.locator(".chart-value")).to_have_text(
        [re.compile(r"^3 "), re.compile(r"^1 "), re.compile(r"^1 ")]
    )
    reasons = page.locator("section", has=page.get_by_role("heading", name="Alasan gagal dan dilewati"))
    expect(reasons).to_contain_text("Gagal: Memblokir bot")
    shot(page, "06-campaign-results")

    # -- the other pages -------------------------------------------------------------------------------
    page.get_by_role("link", name="Kampanye", exact=True).click()
    expect(page.locator("table")).to_contain_text("Diskon iuran, Pasar Cibinong")
    expect(page.locator("table")).to_contain_text("Selesai")
    shot(page, "07-campaigns")
    page.get_by_role("link", name="Pendaftaran").click()
    expect(page.locator(".funnel li")).to_have_count(4)
    expect(page.locator(".funnel-head strong")).to_have_text(["9", "4", "3", "0"])
    shot(page, "08-funnel")
    page.get_by_role("link", name="Pesan tak dikenali").click()
    rows = page.locator("table tbody tr")
    expect(rows.first).to_contain_text("kapan bansos cair min")
    expect(page.locator("table")).to_contain_text("nik saya [NIK] kok ga bisa")
    assert "3201014506900003" not in page.content()
    shot(page, "09-unrecognised")
    expect(page.get_by_role("link", name="Staf", exact=True)).to_have_count(
        0
    )  # a broadcaster does not manage staff
    page.goto(stack.base_url + "/admin/staff")
    expect(page.get_by_role("heading", name="Tidak bisa dilakukan")).to_be_visible()
    page.get_by_role("link", name="budi").click()
    expect(page.get_by_role("heading", name="Akun saya")).to_be_visible()
    shot(page, "10-account")

    # -- a phone ----------------------------------------------------------------------------------------
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(stack.base_url + "/admin")
    shot(page, "11-phone-dashboard")
    page.goto(f"{stack.base_url}/admin/campaigns/{campaign_id}")
    shot(page, "12-phone-campaign")
    page.goto(stack.base_url + "/admin/campaigns/new")
    shot(page, "13-phone-compose")
    page.set_viewport_size({"width": 1280, "height": 900})

    # -- an admin: staff and the audit log --------------------------------------------------------------
    page.get_by_role("button", name="Keluar").click()
    expect(page.get_by_role("status")).to_contain_text("Anda sudah keluar.")
    page.get_by_label("Nama pengguna").fill("siti")
    page.get_by_label("Kata sandi").fill(PASSWORD)
    page.get_by_role("button", name="Masuk").click()
    page.get_by_role("link", name="Staf", exact=True).click()
    expect(page.locator("table")).to_contain_text("budi")
    shot(page, "14-staff")
    page.get_by_role("link", name="Log audit").click()
    log = page.locator("table")
    for action in ("campaign.create", "campaign.test_send", "campaign.start", "login.failed"):
        expect(log).to_contain_text(action)
    expect(log.locator("tr", has_text="campaign.start")).to_contain_text(f"audience={len(stack.bogor)}")
    shot(page, "15-audit")

    assert not problems, problems  # no script error, no content-security-policy violation
