"""Build the chat messages for a grounded answer: numbered sources, then the question.

Token counts are approximated as ``ceil(len(text) / CHARS_PER_TOKEN)``. With 3 characters per
token the estimate over-counts English prose (SmolLM2's tokenizer: 3.55 characters per token on
a technical manual; BPE tokenizers average ~4) and stays safe for code and numbers, so the prompt
fits the context window without a tokenizer round-trip. Scripts that tokenize worse (CJK) may
need a lower value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from serving.protocols import Message, Source

NO_ANSWER = "The sources do not contain the answer."
CHARS_PER_TOKEN = 3.0
TEMPLATE_OVERHEAD_TOKENS = 64  # chat-template special tokens, role headers, safety margin
TRUNCATION_MARK = " […]"

SYSTEM_PROMPT = (
    "You answer questions using ONLY the numbered sources given by the user. "
    "Do not use any other knowledge. "
    "Cite every statement with the number of its source in square brackets, like [1] or [2]. "
    "Use only the numbers of the sources given. "
    f'If the sources do not contain the answer, reply exactly: "{NO_ANSWER}" '
    "Answer concisely, in the language of the question."
)


def approx_tokens(text: str) -> int:
    """A conservative token estimate (see the module docstring)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def source_header(source: Source) -> str:
    """``[n] Title — Section (page p)``, leaving out what is empty."""
    parts = [part for part in (source.title.strip(), source.section.strip()) if part]
    header = f"[{source.number}] " + (" — ".join(parts) if parts else "(untitled)")
    if source.page is not None:
        header += f" (page {source.page})"
    return header


def build_messages(
    question: str,
    sources: Sequence[Source],
    *,
    context_tokens: int = 8192,
    max_tokens: int = 384,
) -> list[Message]:
    """A system message with the rules and a user message with the sources and the question.

    Source texts are truncated (at a word boundary, marked with ``[…]``) so that the prompt plus
    `max_tokens` of answer fit `context_tokens`; short sources leave their unused share to longer
    ones. Raises ValueError when even the question alone does not fit.
    """
    headers = [source_header(s) for s in sources]
    fixed = (
        approx_tokens(SYSTEM_PROMPT)
        + approx_tokens(_user_message(question, headers, [""] * len(sources)))
        + TEMPLATE_OVERHEAD_TOKENS
    )
    budget = context_tokens - max_tokens - fixed
    if budget < 0:
        raise ValueError("the question does not fit the context window")
    texts = fit_texts([s.text.strip() for s in sources], budget)
    return [
        Message(role="system", content=SYSTEM_PROMPT),
        Message(role="user", content=_user_message(question, headers, texts)),
    ]


def fit_texts(texts: Sequence[str], budget_tokens: int) -> list[str]:
    """Truncate `texts` so that their approximate tokens sum to at most `budget_tokens`.

    Water-filling: the shortest texts are kept whole first, the rest share what remains equally.
    """
    out = list(texts)
    remaining = budget_tokens
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for done, i in enumerate(order):
        share = remaining // (len(order) - done)
        if approx_tokens(texts[i]) > share:
            out[i] = truncate(texts[i], share)
        remaining -= approx_tokens(out[i])
    return out


def truncate(text: str, max_tokens: int) -> str:
    """Cut `text` to about `max_tokens`, at a word boundary, with a truncation mark."""
    max_chars = int(max_tokens * CHARS_PER_TOKEN) - len(TRUNCATION_MARK)
    if max_chars <= 0:
        return ""
    cut = text[:max_chars]
    space = cut.rfind(" ")
    if space > max_chars // 2:
        cut = cut[:space]
    return cut.rstrip() + TRUNCATION_MARK


def _user_message(question: str, headers: Sequence[str], texts: Sequence[str]) -> str:
    blocks = [f"{header}\n{text}" for header, text in zip(headers, texts, strict=True)]
    sources = "\n\n".join(blocks) if blocks else "(no sources)"
    return f"Sources:\n\n{sources}\n\nQuestion: {question.strip()}"
