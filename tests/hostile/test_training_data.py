"""The Rasa training-data reader on odd annotations and odd documents: it reads them, or refuses them with
TrainingDataError (a ValueError naming the file), never another exception; spans index the plain text."""

from __future__ import annotations

import json

import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from nlu.training_data import TrainingDataError, annotate, loads, parse_annotated
from tests.hostile.strategies import HOSTILE, HOSTILE_TEXT, JSON_VALUES

BRACKETS = st.sampled_from(["[", "]", "(", ")", "{", "}", ":", '"', "\\", "[]", "()", "{}", "](", "]{", "]["])
ANNOTATION_PIECES = st.one_of(
    BRACKETS,
    HOSTILE_TEXT,
    st.builds(lambda t, e: f"[{t}]({e})", HOSTILE_TEXT, HOSTILE_TEXT),
    st.builds(lambda t, e, v: f"[{t}]({e}:{v})", HOSTILE_TEXT, HOSTILE_TEXT, HOSTILE_TEXT),
    st.builds(
        lambda t, d: f"[{t}]{json.dumps(d)}",
        HOSTILE_TEXT,
        st.dictionaries(st.sampled_from(["entity", "value", "role", "group"]), JSON_VALUES),
    ),
    st.builds(
        lambda t, d: f"[{t}][{json.dumps(d)}]",
        HOSTILE_TEXT,
        st.lists(st.dictionaries(st.sampled_from(["entity", "value"]), JSON_VALUES), max_size=2),
    ),
)


@HOSTILE
@given(st.lists(ANNOTATION_PIECES, max_size=6).map("".join))
@example("[2jt](amount) [x]{not json} [y][{]")
@example('[a]{"entity": null}')
@example("[a][{}]")
@example('[]{"entity": "x"}')
def test_annotations_read_or_refused(annotated: str) -> None:
    try:
        text, spans = parse_annotated(annotated)
    except TrainingDataError:
        return
    for span in spans:
        assert 0 <= span.start <= span.end <= len(text)
        assert isinstance(span.entity, str) and isinstance(span.value, str)


@st.composite
def documents(draw: st.DrawFn) -> str:
    examples = draw(
        st.one_of(
            st.lists(ANNOTATION_PIECES, max_size=4).map(lambda xs: "".join(f"- {x}\n" for x in xs)),
            st.lists(st.one_of(JSON_VALUES, st.fixed_dictionaries({"text": JSON_VALUES})), max_size=3),
            JSON_VALUES,
        )
    )
    item = draw(
        st.one_of(
            st.fixed_dictionaries({"intent": JSON_VALUES, "examples": st.just(examples)}),
            st.fixed_dictionaries({"synonym": JSON_VALUES, "examples": st.just(examples)}),
            st.fixed_dictionaries({"lookup": JSON_VALUES, "examples": st.just(examples)}),
            st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=2),
            JSON_VALUES,
        )
    )
    nlu = draw(st.one_of(st.lists(st.just(item), max_size=2), JSON_VALUES))
    return yaml.safe_dump({"version": "3.1", "nlu": nlu}, allow_unicode=True)


@HOSTILE
@given(st.one_of(documents(), HOSTILE_TEXT))
@example("nlu: [{intent: x, examples: 5}]")
@example("nlu:\n- intent: x\n  examples: |\n    - [a](b\n")
@example("!!python/object/apply:os.system ['true']")
@example("nlu: &a [*a]")
def test_documents_read_or_refused(content: str) -> None:
    try:
        data = loads(content, source="hostile.yml")
    except TrainingDataError as exc:
        assert "hostile.yml" in str(exc)
        return
    for ex in data.examples:
        assert isinstance(ex.text, str) and isinstance(ex.intent, str)
        for span in ex.entities:
            assert 0 <= span.start <= span.end <= len(ex.text)


@HOSTILE
@given(
    st.lists(
        st.builds(
            lambda t, e: f"[{t}]({e})",
            st.from_regex(r"[a-z0-9 ]{1,8}", fullmatch=True),
            st.sampled_from(["nik", "amount", "date"]),
        ),
        max_size=3,
    ).map(" x ".join)
)
def test_annotate_inverts_parse(annotated: str) -> None:
    from nlu.training_data import Example

    text, spans = parse_annotated(annotated)
    again = parse_annotated(annotate(Example(text, "greet", tuple(spans))))
    assert again == (text, spans)
