"""What hostile input is made of, shared by every test under tests/hostile and tests/security.

`HOSTILE` is the hypothesis settings of these tests: a modest example count so the suite stays fast in CI
(`hostile-ci`, the default), or a deep run (`HOSTILE_PROFILE=hostile-deep pytest tests/hostile`) when a
parser changed. Profiles are looked up, never loaded globally, so other developers' tests keep their own
hypothesis settings.
"""

from __future__ import annotations

import json
import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

settings.register_profile(
    "hostile-ci",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=True,  # CI runs the same examples every time: a failure there reproduces locally
)
settings.register_profile(
    "hostile-deep",
    max_examples=2_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
HOSTILE = settings.get_profile(os.environ.get("HOSTILE_PROFILE", "hostile-ci"))


def scaled(n: int) -> settings:
    """HOSTILE with its example count divided by `n` (for tests whose examples are whole HTTP turns)."""
    return settings(HOSTILE, max_examples=max(5, HOSTILE.max_examples // n))


# Injection attempts of every kind the brief and OWASP name: SQL, templates (Jinja, str.format, %-format,
# shell/JS), markup, path and header tricks.
INJECTIONS: tuple[str, ...] = (
    "'; DROP TABLE members; --",
    "' OR '1'='1",
    "Robert'); DROP TABLE registrations;--",
    '"; DELETE FROM staff_accounts; --',
    "{{7*7}}",
    "{{ config.items() }}",
    "{% for x in range(9999999) %}x{% endfor %}",
    "{nama}",
    "{0.__class__.__mro__}",
    "{}",
    "%s%s%s%n",
    "%(nik)s",
    "${x}",
    "${jndi:ldap://127.0.0.1/a}",
    "#{7*7}",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "../../../../etc/passwd",
    "\r\nSet-Cookie: jb_admin=x",
    "/affirm",
    '/choose{"value": "1"}',
    "/start kkbc_tanahabang",
)

# Characters that break naive code: control characters, NUL, bidi overrides, zero-width and combining
# marks, characters whose case or NFKC form changes length, non-ASCII digits, emoji with modifiers.
ODD_CHARS: tuple[str, ...] = (
    "\x00",
    "\x07",
    "\x1b[31m",
    "\x7f",
    "\u0085",
    "\u2028",
    "\u202e",  # right-to-left override
    "\u200f",
    "\u200b",  # zero-width space
    "\ufeff",
    "\u0301",  # combining acute
    "İ",
    "ß",
    "ﬁ",
    "ǅ",
    "１２３",  # full-width digits
    "٣٤٥",  # Arabic-Indic digits
    "𝟗",
    "🙂",
    "👨‍👩‍👧‍👦",
    "🇮🇩",
    "ي",
    "שלום",
    "日本",
    "\U0010ffff",
)

# Fragments that look like the entities, so random text often reaches the digit and date parsers.
ENTITY_LIKE: tuple[str, ...] = (
    "3201014506900003",
    "3201 0145 0690 0003",
    "32.01.01.450690.0003",
    "320101450690000",
    "0812-3456-7890",
    "+62 813 1234 5678",
    "62812",
    "kpj 21034567890",
    "12 Mei 1985",
    "05/11/1990",
    "31-02-1990",
    "1985-05-12",
    "2jt",
    "1,5jt",
    "Rp 3.200.000,-",
    "dua setengah juta",
    "999999999999999999999999999999 triliun",
    "Rp " + "9" * 40,
    "1e999",
    "0 0 0 0",
    "jht",
    "ojol",
    "pedagang pasar",
)

ATOMS = st.sampled_from(INJECTIONS + ODD_CHARS + ENTITY_LIKE)
SEPARATORS = st.sampled_from(["", " ", "  ", "\n", "-", ".", "/", ",", "\t"])


@st.composite
def mixed_text(draw: st.DrawFn, max_parts: int = 8) -> str:
    """Random unicode (any category but surrogates) interleaved with the atoms above."""
    parts = draw(
        st.lists(
            st.one_of(ATOMS, st.text(max_size=12), st.from_regex(r"[0-9 .\-+/]{1,20}", fullmatch=True)),
            max_size=max_parts,
        )
    )
    seps = draw(st.lists(SEPARATORS, min_size=len(parts), max_size=len(parts)))
    return "".join(s + p for s, p in zip(seps, parts, strict=True))


HOSTILE_TEXT = st.one_of(st.text(), mixed_text())

# JSON values of every shape, including the ones Python's json reads specially (1e999 → inf).
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    HOSTILE_TEXT,
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


PAYLOAD_INTENTS = (
    "affirm",
    "deny",
    "register",
    "check_status",
    "choose",
    "inform",
    "unsubscribe",
    "delete_my_data",
)

ENTITY_NAMES = st.sampled_from(["value", "nik", "kpj", "phone", "date", "amount", "program", "occupation"])


@st.composite
def typed_payloads(draw: st.DrawFn) -> str:
    """What a user can type that looks like a button payload: `/intent`, `/intent@0.3`, `/intent{json}`."""
    intent = draw(
        st.one_of(
            st.sampled_from(PAYLOAD_INTENTS), st.from_regex(r"[a-z_]{1,12}", fullmatch=True), HOSTILE_TEXT
        )
    )
    confidence = draw(st.one_of(st.just(""), st.from_regex(r"@[0-9.]{0,6}", fullmatch=True)))
    body = draw(
        st.one_of(
            st.just(""),
            st.dictionaries(st.one_of(ENTITY_NAMES, st.text(max_size=8)), JSON_VALUES, max_size=3).map(
                json.dumps
            ),
            HOSTILE_TEXT.map(lambda s: "{" + s + "}"),
        )
    )
    space = draw(st.sampled_from(["", " ", "\n "]))
    return f"{space}/{intent}{confidence}{body}{space}"
