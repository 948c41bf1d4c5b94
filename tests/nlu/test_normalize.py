"""Normalization: table-driven cases (valid, tricky, must-not-change), offsets, the lexicon, properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nlu import lexicon
from nlu.normalize import Normalized, Token, fold, normalize, normalize_word

# (typed, normalized text)
CASES: list[tuple[str, str]] = [
    # the issue's own messages
    ("gmn cr daftar bpjs tk", "bagaimana cara daftar bpjs ketenagakerjaan"),
    ("iuran brp klo penghasilan 1,5jt", "iuran berapa kalau penghasilan 1,5 juta"),
    ("sy ojol bs ikut ga", "saya ojol bisa ikut tidak"),
    ("kartu sy msh aktif?", "kartu saya masih aktif ?"),
    # case, width and spacing
    ("HALO KAK", "halo kak"),
    ("Halo   Kak", "halo kak"),
    ("ＢＰＪＳ　ＴＫ", "bpjs ketenagakerjaan"),
    ("  \t\n ", ""),
    ("", ""),
    # the agency's names, one form
    ("BPJSTK", "bpjs ketenagakerjaan"),
    ("bpjs-tk", "bpjs ketenagakerjaan"),
    ("jamsostek", "bpjs ketenagakerjaan"),
    ("BPJamsostek", "bpjs ketenagakerjaan"),
    ("bp jamsostek", "bpjs ketenagakerjaan"),
    ("bpjs naker", "bpjs ketenagakerjaan"),
    ("bpjs tenaga kerja", "bpjs ketenagakerjaan"),
    ("bpjs ketenagakerjaan", "bpjs ketenagakerjaan"),
    ("bpjs kes", "bpjs kesehatan"),
    ("bpjskes", "bpjs kesehatan"),
    ("bpjs", "bpjs"),
    # domain words stay as they are (public lists map some of them wrongly)
    ("jht jkk jkm jp jkp", "jht jkk jkm jp jkp"),
    ("kpj nik ktp kk", "kpj nik ktp kk"),
    ("ojol opang pkl art prt mua jukir", "ojol opang pkl art prt mua jukir"),
    ("tk", "tk"),
    ("p", "p"),
    ("pp", "pp"),
    ("pensiun", "pensiun"),
    # chat shorthand
    ("brp", "berapa"),
    ("gmn", "bagaimana"),
    ("gimana", "bagaimana"),
    ("klo", "kalau"),
    ("kalo", "kalau"),
    ("bs", "bisa"),
    ("dgn", "dengan"),
    ("yg", "yang"),
    ("udh", "sudah"),
    ("udah", "sudah"),
    ("blm", "belum"),
    ("tdk", "tidak"),
    ("gk", "tidak"),
    ("ga", "tidak"),
    ("gak", "tidak"),
    ("nggak", "tidak"),
    ("enggak", "tidak"),
    ("dll", "dan lain-lain"),
    ("sy", "saya"),
    ("gw", "saya"),
    ("skrg", "sekarang"),
    ("knp", "kenapa"),
    ("jd", "jadi"),
    ("tf", "transfer"),
    ("cairin jht", "cairkan jht"),
    ("dicairin", "dicairkan"),
    ("ok", "oke"),
    ("y", "iya"),
    ("makasih", "terima kasih"),
    ("mksh min", "terima kasih min"),
    ("thx", "terima kasih"),
    # regional words
    ("matur nuwun", "terima kasih"),
    ("hatur nuhun", "terima kasih"),
    ("suwun", "terima kasih"),
    ("piye carane", "bagaimana carane"),
    ("mboten", "tidak"),
    ("nggih", "iya"),
    # forms of address are not rewritten ("bang" is not "ngab")
    ("bang", "bang"),
    ("kak", "kak"),
    ("min", "min"),
    # stretched letters, and real doubles that must stay
    ("haloooo", "halo"),
    ("halooo kakkk", "halo kak"),
    ("maaaaf", "maaf"),
    ("maaf", "maaf"),
    ("saat", "saat"),
    ("tt", "tt"),
    ("siapp", "siap"),
    ("okeee", "oke"),
    ("tidakkk", "tidak"),
    ("makasihhh", "terima kasih"),
    ("pagiii min", "pagi min"),
    ("yaaa", "iya"),
    ("tolongggg", "tolong"),
    ("HALOOOO", "halo"),
    # reduplication and glued forms
    ("bisa2", "bisa-bisa"),
    ("kira-kira", "kira-kira"),
    ("b4", "sebelum"),
    ("2x sebulan", "dua kali sebulan"),
    ("jum'at", "jumat"),
    ("assalamu'alaikum", "assalamualaikum"),
    ("asslmkm", "assalamualaikum"),
    # punctuation split off, runs folded
    ("halo!!!", "halo !"),
    ("apa???", "apa ?"),
    ("ya,betul", "iya , betul"),
    ("iuran?berapa", "iuran ? berapa"),
    ("...", "."),
    # numbers keep their separators; units glued to numbers are split off
    ("Rp 3.200.000", "rupiah 3.200.000"),
    ("rp1.000.000,-", "rupiah 1.000.000 , -"),
    ("800rb", "800 ribu"),
    ("2jt", "2 juta"),
    ("3.5 jt", "3.5 juta"),
    ("2jt-an", "2 juta - an"),
    ("3201 0145 0690 0003", "3201 0145 0690 0003"),
    ("0812-3456-7890", "0812 - 3456 - 7890"),
    # number words are left for the amount extractor
    ("dua juta", "dua juta"),
    ("enam", "enam"),
    ("sejuta", "sejuta"),
    # unknown words pass through lower-cased
    ("Jefferson", "jefferson"),
    ("café", "café"),
    ("ﬁle", "file"),
    ("👍🙏", "👍 🙏"),
]


@pytest.mark.parametrize(("typed", "expected"), CASES)
def test_normalized_text(typed: str, expected: str) -> None:
    assert normalize(typed).text == expected


@pytest.mark.parametrize(
    ("typed", "surfaces"),
    [
        ("Gmn cr daftar BPJS TK??", ["Gmn", "cr", "daftar", "BPJS TK", "??"]),
        ("makasihhh kak!", ["makasihhh", "kak", "!"]),
        ("gaji 2jt-an", ["gaji", "2", "jt", "-", "an"]),
        ("bisa2 aja", ["bisa2", "aja"]),
        ("ＢＰＪＳ　ｔｋ ok", ["ＢＰＪＳ　ｔｋ", "ok"]),
        ("İstanbul ﬁle", ["İstanbul", "ﬁle"]),
    ],
)
def test_offsets_point_at_the_typed_words(typed: str, surfaces: list[str]) -> None:
    tokens = normalize(typed).tokens
    assert [typed[t.start : t.end] for t in tokens] == surfaces


def test_token_and_normalized_shape() -> None:
    result = normalize("Makasih BPJS TK")
    assert result == Normalized(
        original="Makasih BPJS TK",
        text="terima kasih bpjs ketenagakerjaan",
        tokens=(Token("terima kasih", 0, 7), Token("bpjs ketenagakerjaan", 8, 15)),
    )


@pytest.mark.parametrize(
    ("word", "expected"), [("gmn", "bagaimana"), ("siapp", "siap"), ("maaf", "maaf"), ("xyzzy", "xyzzy")]
)
def test_normalize_word(word: str, expected: str) -> None:
    assert normalize_word(word) == expected


@pytest.mark.parametrize("text", ["ABC", "ＡＢＣ", "İi", "ﬁx", "Straße", "e\u0301", "٣٤"])
def test_fold_keeps_length(text: str) -> None:
    assert len(fold(text)) == len(text)


# ---- the lexicon ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "wrong"),
    [
        ("pkl", "pukul"),
        ("bang", "ngab"),
        ("ojol", "ojek online"),
        ("enam", "mane"),
        ("tt", "payudara"),
        ("k3", "ketiga"),
        ("tf", "tensorflow"),
        ("malang", "ngalam"),
        ("kcp", "kecap"),
        ("sma", "sama"),
        ("nuhun", "iya"),
    ],
)
def test_wrong_public_mappings_are_overridden(word: str, wrong: str) -> None:
    assert lexicon.slang().get(word, word) != wrong


def test_number_words_are_never_rewritten() -> None:
    numbers = "nol satu dua tiga empat lima enam tujuh delapan sembilan sepuluh sebelas belas puluh ratus"
    numbers += " ribu juta miliar seratus seribu sejuta setengah koma"
    assert {w: lexicon.slang()[w] for w in numbers.split() if w in lexicon.slang()} == {}


def test_domain_entries_win_over_public_lists() -> None:
    slang = lexicon.slang()
    for key, value in lexicon.domain().items():
        assert slang.get(key, key) == value


def test_every_rejected_word_is_absent_or_remapped_by_the_domain() -> None:
    public = {k.lower() for _, rows in lexicon.public_sources() for k, _ in rows}
    for word in lexicon.rejected():
        assert word in public, f"{word!r} is rejected but no public list has it"
        assert word not in lexicon.slang() or word in lexicon.domain()


def test_vocabulary_holds_real_doubles() -> None:
    assert {"maaf", "saat", "tunggu", "sudah"} <= lexicon.vocabulary()


# ---- properties -------------------------------------------------------------------------------------------


@given(st.text())
def test_any_unicode_text_normalizes_with_offsets_inside(text: str) -> None:
    result = normalize(text)
    assert result.original == text
    assert result.text == " ".join(t.text for t in result.tokens)
    previous_end = 0
    for token in result.tokens:
        assert 0 <= previous_end <= token.start < token.end <= len(text)
        assert token.text and token.text == token.text.strip()
        previous_end = token.end


@given(st.text(alphabet=st.characters(codec="ascii"), max_size=60))
def test_ascii_tokens_cover_every_non_space_character(text: str) -> None:
    covered: set[int] = set()
    for token in normalize(text).tokens:
        covered.update(range(token.start, token.end))
    assert {i for i, ch in enumerate(text) if not ch.isspace()} <= covered
