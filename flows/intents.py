"""Intent groups the engine and the flows route on (names fixed by shared/contract.md §1)."""

from __future__ import annotations

# Answered by flows.benefits with one content text each.
INFO = frozenset(
    {
        "ask_programs",
        "ask_jkk",
        "ask_jkm",
        "ask_jht",
        "ask_jp",
        "ask_jkp",
        "ask_eligibility",
        "ask_requirements",
        "ask_payment",
        "ask_claim",
        "ask_office",
    }
)

# A confident message with one of these, that is not an answer to the question the bot asked, is a question
# asked mid-flow: it is answered, and a form then offers to resume.
INTERRUPTING = INFO | {
    "ask_contribution",
    "check_status",
    "register",
    "human_handoff",
    "bpjs_kesehatan",
    "subscribe",
    "goodbye",
}

# Offered as buttons in a clarifying question (each needs a label in labels.intents).
SUGGESTIBLE = (INTERRUPTING - {"goodbye"}) | {"delete_my_data", "unsubscribe"}
