from __future__ import annotations

import pytest

from flows.masking import mask_kpj, mask_name, mask_nik, mask_phone


def test_nik_keeps_region_and_last_four_only() -> None:
    assert mask_nik("3201014506900003") == "3201********0003"
    assert mask_nik("3201 0145 0690 0003") == "3201********0003"
    assert "01450690" not in mask_nik("3201014506900003")


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("Budi Santoso", "B**i S*****o"),
        ("Siti Nur Aisyah", "S**i N*r A****h"),
        ("Al", "A*"),
        ("A", "A"),
        ("  Budi   Santoso ", "B**i S*****o"),
    ],
)
def test_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


def test_kpj_and_phone() -> None:
    assert mask_kpj("21034567890") == "210*****890"
    assert mask_phone("+6281234567890") == "+62812****7890"
