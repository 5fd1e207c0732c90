"""Serving: generator clients (vLLM / llama.cpp, OpenAI-compatible), prompts, citations, streaming.

A plain library: it imports nothing of Enclave's other packages and takes its settings as arguments.
Heavy runtimes (xllamacpp, httpx) load only through `serving.factory.make_generator`.
"""

from serving.answer import Delta, Done, stream_answer
from serving.citations import CitationTracker, parse_citations
from serving.errors import GeneratorRejected, GeneratorUnavailable, ServingError
from serving.factory import make_generator
from serving.prompt import NO_ANSWER, build_messages
from serving.protocols import Generator, Message, Source
from serving.settings import GeneratorSettings

__all__ = [
    "NO_ANSWER",
    "CitationTracker",
    "Delta",
    "Done",
    "Generator",
    "GeneratorRejected",
    "GeneratorSettings",
    "GeneratorUnavailable",
    "Message",
    "ServingError",
    "Source",
    "build_messages",
    "make_generator",
    "parse_citations",
    "stream_answer",
]
