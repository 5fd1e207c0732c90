"""Ingestion: parse (unstructured, offline), chunk semantically, embed and index documents."""
