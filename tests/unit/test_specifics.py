"""Specifics (serving.specifics): what counts as a number, quantity, code or identifier, and
when one occurs in a passage."""

from __future__ import annotations

import pytest

from serving.specifics import missing, named, occurs, specifics


def _keys(text: str) -> list[tuple[str, str]]:
    return [(s.kind, s.key) for s in specifics(text)]


def test_the_issue_examples_are_specifics():
    text = "Use XJ-220 at 78 N·m; error 42P01 means max_wal_senders is too low."
    assert _keys(text) == [
        ("code", "xj-220"),
        ("quantity", "78 n·m"),
        ("code", "42p01"),
        ("code", "max_wal_senders"),
    ]


@pytest.mark.parametrize(
    ("text", "keys"),
    [
        ("os.path.join and token.ENCODING", [("code", "os.path.join"), ("code", "token.encoding")]),
        ("raise ValueError in SQLite", [("code", "valueerror"), ("code", "sqlite")]),
        ("MRSA needs a fit-tested FFP3 respirator", [("code", "mrsa"), ("code", "ffp3")]),
        ("at 1,000 ppm for 20 seconds", [("quantity", "1000 ppm"), ("quantity", "20 s")]),
        ("version 3.5 of 365 days", [("number", "3.5"), ("quantity", "365 d")]),
        ("call `executescript` now", [("code", "executescript")]),
        ("e.g. over-tightening, i.e. not", []),
        ("It is 40 bar [1].", [("quantity", "40 bar")]),
        ("1. Remove the cover.\n2. Refit it.", []),
        ("serial numbers below 22-04000", [("number", "22"), ("number", "04000")]),
    ],
)
def test_kinds(text, keys):
    assert _keys(text) == keys


def test_a_code_occurs_as_a_whole_token_case_insensitively():
    [xj] = specifics("XJ-220")
    assert occurs(xj, "the xj-220 valve")
    assert occurs(xj, "Door hinge screws | XJ-220-HS4 | 0.6 N·m")
    assert not occurs(xj, "the XJ-2200 valve")
    assert not occurs(xj, "the XJ-22 valve")


def test_numbers_compare_exactly():
    assert missing("5 bar", "rated 3.5 bar") == specifics("5 bar")
    assert missing("3 bar", "rated 3.5 bar") == specifics("3 bar")
    assert missing("3.5 bar", "rated 3.5bar") == []
    assert missing("1,000 ppm", "at 1000 ppm available chlorine") == []
    assert missing("within 72 h", "should start within 72 hours") == []
    assert missing("tightened to 0.4 Nm", "Battery cover screws | XJ-220-BC2 | 0.4 N·m") == []


def test_invented_specifics_are_missing():
    passage = (
        "The XJ-220 is the only model in the series approved for continuous operation at 40 bar."
    )
    invented = missing("The XJ-265 (XK-78) is rated 96 N·m at 40 bar.", passage)
    assert [s.text for s in invented] == ["XJ-265", "XK-78", "96 N·m"]


def test_a_definition_line_names_a_dotted_name_fully():
    [code] = specifics("mimetypes.MimeTypes.readfp")
    assert named(code, ["readfp(fp, strict=True)", "Load MIME type information."]) == 1.0
    assert named(code, ["class mimetypes.MimeTypes.readfp"]) == 1.0
    assert named(code, ["MimeTypes.readfp(fp)"]) == 1.0


def test_a_passing_mention_of_a_tail_gets_partial_credit():
    [code] = specifics("mimetypes.MimeTypes.readfp")
    assert named(code, ["This uses readfp() to parse the file."]) == pytest.approx(0.5 / 3)
    assert named(code, ["re.readfpx(fp)", "nothing here"]) == 0.0
