"""Verifiers: math equivalence, the worker pool and the sandbox (docs/verify.md)."""
