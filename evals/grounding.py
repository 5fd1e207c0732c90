"""Grounding metrics for the answer evaluation, independent of the product's verifier.

**Invented specifics**: the number-, code- and identifier-shaped tokens of the text *shown* as an
answer that occur in none of the sources it was given. A token is specific when it holds a
digit (``40``, ``3.5``, ``E14``, ``XJ-220``, ``42P01``), an underscore (``max_wal_senders``), a
dot between letters (``os.path``), or capitals after its first letter (``SQLite``, ``MRSA``).
It occurs when its lower-cased text is found in the lower-cased sources as a whole token
(thousands separators dropped on both sides). Citation markers ``[n]`` and list numbers are
not tokens. This deliberately shares no code with `serving.specifics`: it is the check on the
verifier, not the verifier again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

_MARKER = re.compile(r"\[\d{1,3}\]")
_LIST_NUMBER = re.compile(r"^\s*\d{1,3}[.)]\s", re.MULTILINE)
_TOKEN = re.compile(r"[0-9A-Za-z_]+(?:[.\-:/][0-9A-Za-z_]+)*")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")


def specific_tokens(text: str) -> list[str]:
    """The specific tokens of `text` (see the module docstring), in order, without repeats."""
    text = _THOUSANDS.sub("", _LIST_NUMBER.sub(" ", _MARKER.sub(" ", text)))
    return list(dict.fromkeys(t for t in _TOKEN.findall(text) if _is_specific(t)))


def _is_specific(token: str) -> bool:
    if any(c.isdigit() for c in token) or "_" in token:
        return True
    if re.search(r"[A-Za-z]\.[A-Za-z]{2}", token) and not re.fullmatch(
        r"(?:[a-z]\.)+[a-z]?", token
    ):
        return True
    return any(c.isupper() for c in token[1:]) and len(token) > 1


def invented_specifics(shown: str, sources: Iterable[str]) -> list[str]:
    """The specific tokens of `shown` found in none of `sources`."""
    corpus = _THOUSANDS.sub("", "\n".join(sources)).lower()
    return [
        t
        for t in specific_tokens(shown)
        if not re.search(rf"(?<![0-9a-z_]){re.escape(t.lower())}(?![0-9a-z_])", corpus)
    ]


def share(flags: Sequence[bool]) -> float:
    """The share of true flags (nan for none)."""
    return sum(flags) / len(flags) if flags else float("nan")
