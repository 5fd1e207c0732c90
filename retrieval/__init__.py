"""Retrieval: the index schema, embedders, BM25, vector stores, rerankers and `Retriever.search`.

A plain library: no web framework, no global settings, no database session. Everything it
needs arrives as constructor arguments, so the API, the worker and the evals use it alike.
"""
