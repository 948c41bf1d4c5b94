"""Realistic fake members in the import CSV format: for `jamsosbot demo-data`, the benchmark and tests.

Names are common Indonesian names, NIKs are valid-shaped (a real province code, the date of birth with +40
for women), KPJ numbers are 11 digits and unique within a file, statuses are mixed like a real branch's
book. None of it is a real person.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from storage.ops.identity import PROVINCE_CODES
from storage.ops.member_rows import COLUMNS
from storage.repo.members import add_months, month_end


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


MEN = _words(
    "Agus Budi Joko Slamet Bambang Hendra Rudi Andi Dedi Wahyu Eko Arif Yusuf Rahmat Sutrisno Teguh "
    "Dimas Fajar Rizky Ahmad Muhammad Ilham Bayu Dwi Hadi Imam Irfan Putu Made Ketut Wayan Nyoman "
    "Yohanes Daniel"
)
WOMEN = _words(
    "Siti Sri Dewi Ratna Wulan Nur Rina Yuni Ani Lestari Fitri Indah Putri Ayu Dian Maya Rini Eka "
    "Tuti Sari Nia Novi Intan Wati Endang Suharti Kadek Komang Maria Yuliana Ningsih Rahayu Fatimah "
    "Aisyah"
)
FAMILY = _words(
    "Saputra Wijaya Susanto Hidayat Setiawan Pratama Kurniawan Nugroho Siregar Nasution Harahap Lubis "
    "Simanjuntak Sitompul Hutapea Sinaga Pangaribuan Tanjung Rahman Hasibuan Purba Ginting Tarigan "
    "Manurung Wibowo Santoso Gunawan Halim Syahputra Ramadhan Firmansyah Permana Sembiring Daulay"
)
OCCUPATIONS = (
    "ojol",
    "ojek pangkalan",
    "sopir",
    "kurir",
    "pedagang pasar",
    "pedagang keliling",
    "pedagang warung",
    "pedagang online",
    "petani",
    "nelayan",
    "kuli angkut",
    "asisten rumah tangga",
    "tukang bangunan",
    "tukang parkir",
    "penjahit",
    "montir",
)
STREETS = _words("Melati Mawar Kenanga Flamboyan Merdeka Sudirman Diponegoro Pahlawan Pasar Baru Cempaka")
CITIES = _words("Bogor Bekasi Depok Tangerang Bandung Semarang Surabaya Medan Makassar Denpasar Palembang")
_PROVINCES = sorted(PROVINCE_CODES)
_KPJ_STEP = 1_000_003  # prime, coprime with 9e10: i -> KPJ is one-to-one, so a file has no duplicates


@dataclass(frozen=True)
class Sample:
    """A member to try the status check with (fake data, safe to print)."""

    nik: str
    kpj: str
    birth_date: date
    full_name: str
    status: str


def fake_member(rng: random.Random, index: int, today: date) -> dict[str, str]:
    female = rng.random() < 0.5
    birth = date(1962, 1, 1) + timedelta(days=rng.randrange(0, 365 * 43))
    first = rng.choice(WOMEN if female else MEN)
    name = f"{first} {rng.choice(FAMILY)}" if rng.random() < 0.8 else f"{first} {rng.choice(WOMEN + MEN)}"
    region = f"{rng.choice(_PROVINCES)}{rng.randint(1, 30):02d}{rng.randint(1, 20):02d}"
    nik = f"{region}{birth.day + (40 if female else 0):02d}{birth.month:02d}{birth.year % 100:02d}"
    nik += f"{rng.randint(1, 9999):04d}"
    kpj = str(10**10 + (index * _KPJ_STEP) % (9 * 10**10))
    roll = rng.random()
    record = {c: "" for c in COLUMNS}
    record.update(
        kpj=kpj,
        nik=nik,
        full_name=name,
        birth_date=birth.isoformat(),
        programs="jkk+jkm+jht" if rng.random() < 0.4 else "jkk+jkm",
        occupations=rng.choice(OCCUPATIONS),
        income_base=str(rng.randrange(1_000_000, 5_000_001, 100_000)),
        registration_channel=rng.choice(("jmo", "kantor_cabang", "perisai", "bank")),
    )
    if roll < 0.75:
        until = month_end(add_months(today, rng.randint(0, 2)))
        record.update(
            status="active",
            protected_from=(until - timedelta(days=rng.randrange(60, 2000))).isoformat(),
            protected_until=until.isoformat(),
            next_due_date=add_months(until.replace(day=15), 1).isoformat(),
        )
    elif roll < 0.92:
        until = month_end(add_months(today, -rng.randint(4, 30)))
        record.update(
            status="inactive",
            protected_from=(until - timedelta(days=rng.randrange(60, 1500))).isoformat(),
            protected_until=until.isoformat(),
        )
    else:
        record.update(
            status="awaiting_payment", next_due_date=add_months(today.replace(day=15), 1).isoformat()
        )
    if rng.random() < 0.5:
        record["phone"] = f"+628{rng.choice('1235789')}{rng.randrange(10**8, 10**9)}"
    if rng.random() < 0.5:
        record["address"] = f"Jl. {rng.choice(STREETS)} No. {rng.randint(1, 200)}, {rng.choice(CITIES)}"
    return record


def fake_members(count: int, *, seed: int = 2026, today: date | None = None) -> Iterator[dict[str, str]]:
    rng = random.Random(seed)
    today = today or date.today()
    for index in range(count):
        yield fake_member(rng, index, today)


def write_members_csv(
    path: Path, count: int, *, seed: int = 2026, today: date | None = None, samples: int = 0
) -> list[Sample]:
    """Write `count` fake members to `path` (streamed); return up to `samples` of them picked uniformly."""
    picker = random.Random(seed + 1)
    kept: list[Sample] = []
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=COLUMNS)
        writer.writeheader()
        for i, record in enumerate(fake_members(count, seed=seed, today=today)):
            writer.writerow(record)
            if samples:  # reservoir sampling: constant memory however many rows
                sample = Sample(
                    record["nik"],
                    record["kpj"],
                    date.fromisoformat(record["birth_date"]),
                    record["full_name"],
                    record["status"],
                )
                if len(kept) < samples:
                    kept.append(sample)
                elif (j := picker.randrange(i + 1)) < samples:
                    kept[j] = sample
    return kept
