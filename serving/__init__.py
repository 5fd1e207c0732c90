"""Serving: generator clients (vLLM / llama.cpp, OpenAI-compatible), prompts, citations, streaming.

A plain library: it imports nothing of Enclave's other packages and takes its settings as arguments.
"""
