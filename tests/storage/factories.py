"""Realistic test data: valid-shaped NIKs for a birth date, BPU applications."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from storage.membership.base import BpuApplication


def nik_for(birth_date: date, *, female: bool = False, region: str = "320101", serial: int = 1) -> str:
    day = birth_date.day + (40 if female else 0)
    return f"{region}{day:02d}{birth_date.month:02d}{birth_date.year % 100:02d}{serial:04d}"


SITI_BIRTH = date(1990, 6, 5)
SITI_NIK = nik_for(SITI_BIRTH, female=True, serial=3)  # 3201014506900003


def application(**overrides: Any) -> BpuApplication:
    base = BpuApplication(
        nik=SITI_NIK,
        full_name="Siti Rahmawati Kusumadewi",
        birth_date=SITI_BIRTH,
        phone="+6281234567890",
        city="Kabupaten Bogor",
        occupations=("pedagang pasar",),
        monthly_income=2_000_000,
        programs=("jkk", "jkm"),
        payment_months=3,
        monthly_contribution=26_800,
        total_due=80_400,
        channel="telegram",
        consent_id="c-test-1",
        address="Jl. Melati Gang Kenanga No. 17, Cibinong",
        postal_code="16911",
        branch_office="Cibinong",
        email="siti.rahma@example.com",
    )
    return replace(base, **overrides)
