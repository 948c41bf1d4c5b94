"""Indonesian NLU for jamsosbot: normalization → entity extraction → intent classification, with Rasa
3.x training data and the Rasa parse format (contract §3).

`NLU.from_settings(settings).parse(text)` is the entry point; the classes load lazily so that importing a
light submodule (`nlu.normalize`) does not pull in numpy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nlu.parser import NLU, BuiltinNLU
    from nlu.rasa_http import RasaHTTP

__all__ = ["NLU", "BuiltinNLU", "RasaHTTP"]


def __getattr__(name: str) -> Any:
    if name in ("NLU", "BuiltinNLU"):
        from nlu import parser

        return getattr(parser, name)
    if name == "RasaHTTP":
        from nlu.rasa_http import RasaHTTP

        return RasaHTTP
    raise AttributeError(f"module 'nlu' has no attribute {name!r}")
