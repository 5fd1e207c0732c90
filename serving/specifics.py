"""Specifics: the numbers, quantities, codes and identifiers a claim must not invent.

A specific is one of

- a **code or identifier**: a token with a letter and a digit (``E14``, ``42P01``, ``FFP3``),
  word parts joined by ``-`` holding a digit or a capitalised part (``XJ-220``, ``XK-78``,
  ``IT-ACC-12``), a name with ``_``, ``::`` or a dot between words
  (``max_wal_senders``, ``os.path.join``, ``token.ENCODING``), a word with an inner capital
  (``SQLite``, ``ValueError``), an all-capital word (``MRSA``), or any word inside backticks;
- a **quantity**: a number with a unit (``40 bar``, ``78 N·m``, ``0.4 N·m``, ``20 seconds``);
- a **number**: any other number (``3.5``, ``1,000``, ``365``), except a list number opening a
  line.

Not specifics: ordinary hyphenated words (``fit-tested``), abbreviations such as ``e.g.``, and
citation markers ``[n]``. A specific *occurs* in a passage when its text does, case-insensitively,
as a whole token (``XJ-220`` occurs in ``XJ-220-HS4`` but not in ``XJ-2200``); numbers compare
without thousands separators; a quantity's unit may be written in any of its listed spellings
(``h`` / ``hours``, ``N·m`` / ``Nm``), with or without a space after the number.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

SpecificKind = Literal["code", "quantity", "number"]

# canonical unit -> its spellings (all lower case)
UNITS: dict[str, tuple[str, ...]] = {
    "n·m": ("n·m", "n⋅m", "n.m", "nm", "n m", "newton metres", "newton meters"),
    "bar": ("bar", "bars"),
    "psi": ("psi",),
    "pa": ("pa", "kpa", "mpa", "hpa"),
    "%": ("%", "percent", "per cent"),
    "°c": ("°c", "º c", "°", "degrees celsius", "degrees"),
    "°f": ("°f",),
    "ppm": ("ppm",),
    "mmhg": ("mmhg",),
    "ms": ("ms", "milliseconds", "millisecond"),
    "s": ("s", "sec", "secs", "second", "seconds"),
    "min": ("min", "mins", "minute", "minutes"),
    "h": ("h", "hr", "hrs", "hour", "hours"),
    "d": ("day", "days"),
    "wk": ("week", "weeks"),
    "mo": ("month", "months"),
    "y": ("year", "years"),
    "mm": ("mm", "millimetre", "millimetres"),
    "cm": ("cm", "centimetre", "centimetres"),
    "m": ("m", "metre", "metres", "meter", "meters"),
    "km": ("km",),
    "mg": ("mg",),
    "kg": ("kg",),
    "g": ("g", "gram", "grams"),
    "ml": ("ml", "millilitre", "millilitres"),
    "l": ("l", "litre", "litres", "liter", "liters"),
    "v": ("v", "volt", "volts"),
    "a": ("a", "amp", "amps"),
    "w": ("w", "kw", "watt", "watts"),
    "hz": ("hz", "khz", "mhz", "ghz"),
    "b": ("b", "byte", "bytes", "kb", "mb", "gb", "tb", "kib", "mib", "gib"),
    "char": ("character", "characters"),
}
_SPELLING = {s: unit for unit, spellings in UNITS.items() for s in spellings}
_UNIT_ALT = "|".join(re.escape(s) for s in sorted(_SPELLING, key=len, reverse=True))

_NUMBER = r"\d+(?:[.,]\d+)*"
_QUANTITY = re.compile(rf"(?<![\w.,])({_NUMBER})\s?({_UNIT_ALT})(?![\w·⋅])", re.IGNORECASE)
_BARE_NUMBER = re.compile(rf"(?<![\w.,]){_NUMBER}(?![\w])")
_COMPOUND = re.compile(r"\w+(?:(?:::|[-./:@])\w+)*")
_BACKTICKS = re.compile(r"`([^`\n]+)`")
_LIST_NUMBER = re.compile(r"^\s*\d{1,3}[.)]\s", re.MULTILINE)
_MARKER = re.compile(r"\[\d{1,3}\]")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")


@dataclass(frozen=True)
class Specific:
    """One specific of a text: `text` as written, `kind`, and `key` (its normal form)."""

    text: str
    kind: SpecificKind
    key: str


def specifics(text: str) -> list[Specific]:
    """The specifics of `text`, in order, without repeats (by key)."""
    text = _MARKER.sub(" ", _LIST_NUMBER.sub(lambda m: " " * len(m.group()), text))
    found: dict[str, tuple[int, Specific]] = {}
    masked = list(text)
    for match in _BACKTICKS.finditer(text):
        for part in _COMPOUND.finditer(match.group(1)):
            if len(part.group()) > 1:
                start = match.start(1) + part.start()
                _add(found, start, part.group(), "code")
        masked[match.start() : match.end()] = " " * (match.end() - match.start())
    text = "".join(masked)
    for match in _COMPOUND.finditer(text):
        if _is_code(match.group()):
            _add(found, match.start(), match.group(), "code")
            text = text[: match.start()] + " " * len(match.group()) + text[match.end() :]
    for match in _QUANTITY.finditer(text):
        _add(found, match.start(), match.group(), "quantity")
        text = text[: match.start()] + " " * len(match.group()) + text[match.end() :]
    for match in _BARE_NUMBER.finditer(text):
        _add(found, match.start(), match.group(), "number")
    return [s for _, s in sorted(found.values(), key=lambda pair: pair[0])]


def _add(found: dict[str, tuple[int, Specific]], at: int, text: str, kind: SpecificKind) -> None:
    specific = Specific(text=text, kind=kind, key=key_of(text, kind))
    found.setdefault(specific.key, (at, specific))


def key_of(text: str, kind: SpecificKind) -> str:
    """The normal form: lower case; numbers without thousands separators; canonical units."""
    text = _THOUSANDS.sub("", text.lower())
    if kind != "quantity":
        return text
    match = _QUANTITY.fullmatch(text)
    if match is None:
        return text
    return f"{match.group(1)} {_SPELLING[match.group(2).lower()]}"


def _is_code(token: str) -> bool:
    """Whether a compound token is code- or identifier-shaped (see the module docstring)."""
    if token.replace(".", "").replace(",", "").isdigit():
        return False  # a plain number, possibly decimal: not a code
    parts = re.split(r"::|[-./:@]", token)
    if "_" in token.strip("_") or "::" in token:
        return True
    if any(c.isdigit() for c in token) and any(c.isalpha() for c in token):
        return True
    if all(p.isdigit() for p in parts):
        return False  # 22-04000, 10:30: its numbers are checked one by one
    if "." in token or "/" in token or ":" in token:
        return all(len(p) > 1 for p in parts) and any(p.isalpha() for p in parts)
    if "-" in token:
        return any(len(p) > 1 and p.isupper() for p in parts)
    inner_capital = any(c.isupper() for c in token[1:]) and any(c.islower() for c in token)
    return inner_capital or (len(token) > 1 and token.isupper())


def occurs(specific: Specific, passage: str) -> bool:
    """Whether `specific` occurs in `passage` (see the module docstring)."""
    normal = _THOUSANDS.sub("", passage.lower())
    if specific.kind == "quantity":
        number, unit = specific.key.split(" ", 1)
        spellings = "|".join(re.escape(s) for s in sorted(UNITS[unit], key=len, reverse=True))
        pattern = rf"(?<![\w.,]){re.escape(number)}\s?(?:{spellings})(?![\w·⋅])"
    else:
        pattern = rf"(?<!\w)(?<!\d[.,]){re.escape(specific.key)}(?!\w|[.,]\d)"
    return re.search(pattern, normal) is not None


_DEFINITION_LEAD = (
    r"(?:(?:class|exception|coroutine|async|awaitable|abstractmethod|classmethod|staticmethod"
    r"|method|function|attribute|property|data)\s+)*"
)
PARTIAL_CREDIT = 0.5


def tails(key: str) -> list[str]:
    """A dotted name and its shorter tails, longest first: `a.b.c` -> `a.b.c`, `b.c`, `c`."""
    parts = re.split(r"::|[.:/]", key)
    return [".".join(parts[i:]) for i in range(len(parts))]


def named(code: Specific, units: Sequence[str]) -> float:
    """How fully `units` name `code`: 1.0 when one holds it whole or opens with one of its
    tails (a definition line: ``readfp(fp)`` for ``mimetypes.MimeTypes.readfp``); else
    `PARTIAL_CREDIT` times the share of its parts that the longest tail found names; else 0."""
    if any(occurs(code, unit) for unit in units):
        return 1.0
    names = tails(code.key)
    for tail in names[1:]:
        lead = re.compile(rf"{_DEFINITION_LEAD}{re.escape(tail)}(?![\w.])", re.IGNORECASE)
        if any(lead.match(unit.lstrip()) for unit in units):
            return 1.0
    for i, tail in enumerate(names[1:], start=1):
        if any(occurs(Specific(tail, "code", tail), unit) for unit in units):
            return PARTIAL_CREDIT * (len(names) - i) / len(names)
    return 0.0


def missing(text: str, passage: str) -> list[Specific]:
    """The specifics of `text` that do not occur in `passage`."""
    return [s for s in specifics(text) if not occurs(s, passage)]
