"""Focused sources for a small generator: only the passages that matter, not whole chunks.

For each source, its units (`serving.text.units`) are ranked by relevance to the question
(`serving.extractive.Relevance`); the best `per_source` windows that share a term with the
question are kept with `neighbours` units either side, merged where they touch, and joined
in reading order with ``" […] "`` where text was left out. A source with no relevant unit keeps
its first unit, so the numbering and the citations [n] stay those of the full sources; the
verifier checks the answer against the full texts. The embedded SmolLM2 reads ~3 whole
512-1024-token chunks today: this cuts its prompt, and so its time to first text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from serving.extractive import Relevance
from serving.protocols import Source
from serving.text import Unit, units

GAP = " […] "


def focus_sources(
    question: str,
    sources: Sequence[Source],
    *,
    per_source: int = 2,
    neighbours: int = 1,
) -> list[Source]:
    """`sources` with each text cut down to its relevant units and their neighbours."""
    found = {s.number: units(s.text) for s in sources}
    relevance = Relevance(question, found)
    best: dict[int, list[int]] = {s.number: [] for s in sources}
    for window in relevance.ranked():
        picked = best[window.source]
        if window.score > 0 and len(picked) < per_source:
            picked.extend(range(window.first, window.first + window.size))
    return [
        replace(s, text=_cut(s.text, found[s.number], best[s.number] or [0], neighbours))
        for s in sources
    ]


def _cut(text: str, found: Sequence[Unit], keep: Sequence[int], neighbours: int) -> str:
    """The kept units and their neighbours, runs of adjacent units as one piece of `text`."""
    if not found:
        return text
    wanted = sorted(
        {j for i in keep for j in range(i - neighbours, i + neighbours + 1) if 0 <= j < len(found)}
    )
    runs: list[list[int]] = []
    for j in wanted:
        if runs and j == runs[-1][-1] + 1:
            runs[-1].append(j)
        else:
            runs.append([j])
    pieces = [text[found[run[0]].start : found[run[-1]].end] for run in runs]
    lead = "" if wanted[0] == 0 else GAP.lstrip()
    tail = "" if wanted[-1] == len(found) - 1 else GAP.rstrip()
    return lead + GAP.join(pieces) + tail
