"""The intent names of shared/contract.md §1, in the contract's order: the one list the code refers to."""

from __future__ import annotations

INTENTS: tuple[str, ...] = (
    "greet",
    "goodbye",
    "thanks",
    "affirm",
    "deny",
    "cancel",
    "help",
    "human_handoff",
    "ask_programs",
    "ask_jkk",
    "ask_jkm",
    "ask_jht",
    "ask_jp",
    "ask_jkp",
    "ask_contribution",
    "ask_eligibility",
    "ask_requirements",
    "register",
    "check_status",
    "ask_payment",
    "ask_claim",
    "ask_office",
    "subscribe",
    "unsubscribe",
    "delete_my_data",
    "bpjs_kesehatan",
    "out_of_scope",
)
