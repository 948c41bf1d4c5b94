"""The end of the registration form: the summary, changes by name ("ubah nik", "ganti nama"), and the
submission to the membership backend with a deterministic idempotency key, so a double-sent "ya" can never
create two registrations (the backend answers a repeated key with the first receipt)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flows import pricing
from flows.fmt import local_phone
from flows.masking import mask_kpj, mask_nik
from flows.registration_slots import BY_NAME, PACKAGES, occupation_list, package_amounts
from flows.turn import Turn
from storage.membership.base import (
    AlreadyRegistered,
    ApplicationRejected,
    BackendUnavailable,
    BpuApplication,
    MemberStatus,
    RegistrationReceipt,
)

TEXTS = (
    "registration.summary",
    "registration.confirm_again",
    "registration.edit_which",
    "registration.submitted",
    "registration.kpj_line",
    "registration.already_sent",
    "registration.backend_down",
    "registration.already_member_active",
    "registration.already_member_inactive",
    "registration.rejected",
    "registration.package_jkk_jkm_button",
    "registration.package_jkk_jkm_jht_button",
    "registration.period_button",
)
DATA = ("labels.packages", "labels.member_status", "labels.reject_reasons", "registration.pay_channels")
BUTTONS = ("confirm", "edit_fields", "retry", "after_submit", "already_member", "reactivate")


def question_values(t: Turn, step: str) -> dict[str, Any]:
    """Values the question of `step` shows (the package question shows the resulting contribution)."""
    if step != "package":
        return {}
    amounts = package_amounts(t)
    occupations = t.data.get("occupations") or ()
    ahead = {
        name: pricing.totals(t, t.data["income"], programs, occupations, pricing.HORIZON)
        for name, programs in PACKAGES.items()
    }
    return {
        "income": t.rp(t.data["income"]),
        "basic": t.rp(amounts["jkk_jkm"]),
        "basic_then": pricing.then(t, ahead["jkk_jkm"]),
        "full": t.rp(amounts["jkk_jkm_jht"]),
        "full_then": pricing.then(t, ahead["jkk_jkm_jht"]),
        "discount": pricing.discount_running(t, pricing.first_month(t), t.table.sector_of(occupations)),
        "bracket": t.text("pricing.bracket"),
    }


def _period(t: Turn) -> pricing.PeriodTotal:
    d = t.data
    return pricing.totals(t, d["income"], PACKAGES[d["package"]], d["occupations"], int(d["period"]))


def summary(t: Turn) -> None:
    t.goto("confirm")
    d, period = t.data, _period(t)
    titles = {o["value"]: o["title"] for o in occupation_list(t)}
    t.say(
        "registration.summary",
        "confirm",
        full_name=d["full_name"],
        nik=mask_nik(d["nik"]),
        birth_date=t.long_date(date.fromisoformat(d["birth_date"])),
        phone=local_phone(d["phone"]),
        city=d["city"],
        occupations=", ".join(titles.get(o, o) for o in d["occupations"]),
        income=t.rp(d["income"]),
        package=t.content.labels("labels.packages")[d["package"]],
        monthly=t.rp(period.months[0].total),
        monthly_then=pricing.then(
            t, pricing.totals(t, d["income"], PACKAGES[d["package"]], d["occupations"], pricing.HORIZON)
        ),
        months=d["period"],
        total=t.rp(period.total),
        discount=pricing.discount_note(t, period),
    )


def ask(t: Turn) -> None:
    if t.step == "edit":
        t.say("registration.edit_which", "edit_fields")
    else:
        summary(t)


def edit_request(t: Turn) -> str | None:
    """The field a message asks to change: an "Ubah ..." button, or words like "ubah nik", "nama salah"."""
    choice = t.msg.choice or ""
    if choice.startswith("edit_") and choice[5:] in BY_NAME:
        return choice[5:]
    words = set(t.msg.norm.split())
    lettered = [w for w in t.msg.norm.split() if not w.isdigit()]  # "ganti no hp jd 0811 2222 4444"
    if not words & t.content.words("vocab.edit_verbs") or len(lettered) > 6:
        return None
    # "namanya", "nik nya": the field word with its suffix
    padded = (
        " " + " ".join(w[:-3] if w.endswith("nya") and len(w) > 4 else w for w in t.msg.norm.split()) + " "
    )
    for field, phrases in t.content.data("vocab.edit_fields").items():
        if any(f" {p} " in padded for p in phrases):
            return str(field)
    return None


def clear_for_edit(t: Turn, field: str) -> None:
    """Clear one field so the form asks it again; it returns to the summary once all are filled."""
    t.data.pop(field, None)
    if field in ("nik", "birth_date"):
        t.data.pop("checked", None)
    t.goto(field)


def field_named(t: Turn) -> str | None:
    """The field a bare answer to "Bagian mana yang mau diubah?" names ("nik", "nama")."""
    fields: dict[str, list[str]] = t.content.data("vocab.edit_fields")
    return next((str(f) for f, words in fields.items() if t.msg.norm in {str(w) for w in words}), None)


def submit(t: Turn) -> None:
    d = t.data
    period = _period(t)
    application = BpuApplication(
        nik=d["nik"],
        full_name=d["full_name"],
        birth_date=date.fromisoformat(d["birth_date"]),
        phone=d["phone"],
        city=d["city"],
        occupations=tuple(d["occupations"]),
        monthly_income=int(d["income"]),
        programs=PACKAGES[d["package"]],
        payment_months=int(d["period"]),
        monthly_contribution=period.months[0].total,
        total_due=period.total,
        channel=t.ctx.channel,
        consent_id=d["consent_id"],
    )
    # One key per draft revision: a repeated "ya" reuses it; a changed answer makes a new one.
    key = f"jb:{d['draft_id']}:{d['rev']}"
    try:
        receipt = t.services.membership.register(application, idempotency_key=key)
    except BackendUnavailable:
        t.emit("registration.failed", draft_id=d["draft_id"], reason="backend_unavailable")
        t.say("registration.backend_down", "retry")
        return
    except AlreadyRegistered as exc:
        already_member(t, exc.status)
        return
    except ApplicationRejected as exc:
        t.emit("registration.stopped", draft_id=d["draft_id"], reason="rejected", code=exc.reason)
        reason = t.content.labels("labels.reject_reasons")
        t.end()
        t.say("registration.rejected", "menu", reason=reason.get(exc.reason, reason["other"]))
        return
    _receipt(t, receipt, application)


def _receipt(t: Turn, receipt: RegistrationReceipt, application: BpuApplication) -> None:
    pay = receipt.payment
    t.emit(
        "registration.submitted",
        draft_id=t.data["draft_id"],
        registration_number=receipt.registration_number,
        consent_id=application.consent_id,
        programs=list(application.programs),
        occupations=list(application.occupations),
        months=pay.months,
        amount=pay.amount,
        replayed=receipt.replayed,
    )
    t.state["done"] = {
        "registration_number": receipt.registration_number,
        "at": t.ctx.now.isoformat(),
    }
    t.state["just_submitted"] = t.msg.norm or True  # the confirming words: the same again is a double-send
    t.end()
    channels = list(pay.channels) or [str(c) for c in t.content.data("registration.pay_channels")]
    t.say(
        "registration.submitted",
        "after_submit",
        number=receipt.registration_number,
        kpj_line=t.text("registration.kpj_line", kpj=mask_kpj(receipt.kpj)) if receipt.kpj else "",
        amount=t.rp(pay.amount),
        months=pay.months,
        due=t.long_date(pay.due_date),
        nik=mask_nik(pay.payment_code),
        channels="\n".join(f"• {c}" for c in channels),  # one per line: a channel may hold commas itself
    )


def sent_twice(t: Turn, confirmed_with: object) -> bool:
    """Right after a submission: the confirming words again ("ya daftarkan" would read as a new
    registration). Not a number: "1" then picks a button of the receipt ("Ingatkan saya tiap bulan")."""
    msg = t.msg
    if msg.payload is not None:
        return False
    if msg.norm == confirmed_with:
        return True
    words = set(msg.norm.split())
    return msg.intent == "register" and bool(words & t.content.words("vocab.confirm"))


def already_sent(t: Turn) -> None:
    """A second "ya" right after the submission (a double-sent message): one registration, said again."""
    done = t.state.get("done") or {}
    t.say("registration.already_sent", "after_submit", number=done.get("registration_number", ""))


def already_member(t: Turn, status: MemberStatus) -> None:
    t.emit("registration.stopped", draft_id=t.data.get("draft_id"), reason="already_member", status=status)
    t.end()
    label = t.content.labels("labels.member_status").get(status, status)
    if status == "inactive":
        t.say("registration.already_member_inactive", "reactivate")
    else:
        t.say("registration.already_member_active", "already_member", status=label)
