"""The Rasa 3.x YAML reader and writer: tricky annotations, tables, and a lossless round trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlu import training_data
from nlu.training_data import EntitySpan, Example, TrainingData, TrainingDataError, parse_annotated


@pytest.mark.parametrize(
    ("annotated", "text", "spans"),
    [
        ("halo", "halo", []),
        ("iuran brp klo gaji [2jt](amount)", "iuran brp klo gaji 2jt", [("amount", "2jt", 19, 22)]),
        (
            '[1,5 juta]{"entity": "amount", "value": "1500000"} sebulan',
            "1,5 juta sebulan",
            [("amount", "1500000", 0, 8)],
        ),
        ("[JHT](program:jht) sy", "JHT sy", [("program", "jht", 0, 3)]),
        (
            "sy [ojol](occupation) mau ikut [jkk](program) sama [jkm](program)",
            "sy ojol mau ikut jkk sama jkm",
            [("occupation", "ojol", 3, 7), ("program", "jkk", 17, 20), ("program", "jkm", 26, 29)],
        ),
        # a value that is a JSON number stays its JSON text
        (
            'gaji [dua juta]{"entity": "amount", "value": 2000000}',
            "gaji dua juta",
            [("amount", "2000000", 5, 13)],
        ),
        # brackets that are not an annotation stay text
        ("harga [promo] brp", "harga [promo] brp", []),
        ("nomor (kpj) sy [21034567890](kpj)", "nomor (kpj) sy 21034567890", [("kpj", "21034567890", 15, 26)]),
        # non-ASCII before an entity: offsets are characters, not bytes
        ("tahun 2025 — bayar [800rb](amount)", "tahun 2025 — bayar 800rb", [("amount", "800rb", 19, 24)]),
    ],
)
def test_annotations_become_plain_text_and_spans(
    annotated: str, text: str, spans: list[tuple[str, str, int, int]]
) -> None:
    plain, entities = parse_annotated(annotated)
    assert plain == text
    assert [(e.entity, e.value, e.start, e.end) for e in entities] == spans


def test_entity_dict_with_role_and_group_and_a_list_of_dicts() -> None:
    plain, entities = parse_annotated(
        'dari [jakarta]{"entity": "city", "role": "from", "group": "1"} ke '
        '[bandung][{"entity": "city", "role": "to"}, {"entity": "place"}]'
    )
    assert plain == "dari jakarta ke bandung"
    assert entities == [
        EntitySpan("city", "jakarta", 5, 12, role="from", group="1"),
        EntitySpan("city", "bandung", 16, 23, role="to"),
        EntitySpan("place", "bandung", 16, 23),
    ]


@pytest.mark.parametrize("bad", ['[x]{"value": "y"}', "[x]{entity: y}"])
def test_broken_entity_dicts_are_errors(bad: str) -> None:
    with pytest.raises(TrainingDataError):
        parse_annotated(bad)


DOCUMENT = """\
version: "3.1"
nlu:
- intent: ask_contribution
  examples: |
    - iuran brp klo gaji [2jt](amount)
    - berapa iurannya\x20\x20
    this line has no dash and is skipped, as Rasa does
    - [Jaminan Hari Tua]{"entity": "program", "value": "jht"} iurannya brp
- intent: no
  examples:
  - text: |
      gak
    metadata: {sentiment: neg}
  - text: tidak
- synonym: jkk
  examples: |
    - jaminan kecelakaan kerja
    - JKK
- lookup: occupation
  examples: |
    - ojol
    - petani
- regex: kpj
  examples: |
    - \\d{11}
"""


def test_a_document_with_every_kind_of_item() -> None:
    data = training_data.loads(DOCUMENT)
    assert [(e.intent, e.text) for e in data.examples] == [
        ("ask_contribution", "iuran brp klo gaji 2jt"),
        ("ask_contribution", "berapa iurannya"),
        ("ask_contribution", "Jaminan Hari Tua iurannya brp"),
        ("no", "gak"),  # YAML 1.2 as Rasa reads it: `no` is a name, not False
        ("no", "tidak"),
    ]
    assert data.synonyms == {
        "jaminan hari tua": "jht",  # from the annotation's value
        "jaminan kecelakaan kerja": "jkk",
        "jkk": "jkk",
    }
    assert data.lookups == {"occupation": ["ojol", "petani"]}
    assert data.regexes == {"kpj": [r"\d{11}"]}
    assert data.intents == ["ask_contribution", "no"]


@pytest.mark.parametrize(
    "content",
    [
        "nlu: [1, 2]",
        "nlu:\n- intent: x\n  examples: 3\n",
        "nlu:\n- something: x\n",
        "nlu:\n- intent: x\n  examples:\n  - {metadata: 1}\n",
        "nlu: [",
        "nlu: {a: 1}",
    ],
)
def test_malformed_documents_are_errors(content: str) -> None:
    with pytest.raises(TrainingDataError):
        training_data.loads(content, source="bad.yml")


def test_files_without_nlu_give_nothing() -> None:
    assert training_data.loads("version: '3.1'\nstories: []\n").examples == []
    assert training_data.loads("").examples == []


def test_round_trip_through_the_writer() -> None:
    data = TrainingData(
        examples=[
            Example("iuran brp klo gaji 2jt", "ask_contribution", (EntitySpan("amount", "2000000", 19, 22),)),
            Example("sy ojol mau ikut jkk", "ask_eligibility", (
                EntitySpan("occupation", "ojol", 3, 7), EntitySpan("program", "jkk", 17, 20))),
            Example("ke bandung", "x", (EntitySpan("city", "bandung", 3, 10, role="to"),
                                        EntitySpan("place", "bandung", 3, 10))),
            Example("no: [kurung] {kurawal} 100%", "deny"),
        ],
        synonyms={"jaminan kecelakaan kerja": "jkk", "2jt": "2000000"},
        lookups={"occupation": ["ojol", "pedagang pasar"]},
        regexes={"kpj": [r"\d{11}"]},
    )  # fmt: skip
    again = training_data.loads(training_data.dumps(data))
    assert again.examples == data.examples
    assert again.synonyms == data.synonyms
    assert again.lookups == data.lookups
    assert again.regexes == data.regexes


def test_load_merges_a_directory_in_sorted_order(tmp_path: Path) -> None:
    (tmp_path / "b.yml").write_text("nlu:\n- intent: b\n  examples: |\n    - kedua\n")
    (tmp_path / "a.yaml").write_text("nlu:\n- intent: a\n  examples: |\n    - pertama\n")
    (tmp_path / "notes.md").write_text("not data")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.yml").write_text("nlu:\n- lookup: l\n  examples: |\n    - x\n")
    data = training_data.load(tmp_path)
    assert [e.text for e in data.examples] == ["pertama", "kedua"]
    assert data.lookups == {"l": ["x"]}
    assert [p.name for p in training_data.data_files(tmp_path)] == ["a.yaml", "b.yml", "c.yml"]
