"""Verifiers: math equivalence (an exact fast path, then math-verify), the verifier process
pool and the sandbox (docs/verify.md).

    from ponder.verify import math_score, verify_batch, VerifierPool
    math_score("<answer>0.5</answer>", "\\\\frac{1}{2}")      # 1.0
    verify_batch(problems, completions, timeout_s=5.0)        # task.verify per pair, in workers
    from ponder.verify.sandbox import run_python              # untrusted code, confined

`math_score` is cheap to import; the pool is imported on first use of `verify_batch` /
`VerifierPool`.
"""

from ponder.verify.equiv import math_equal, math_score

__all__ = ["VerifierPool", "math_equal", "math_score", "shared_pool", "verify_batch"]


def __getattr__(name: str):
    if name in ("VerifierPool", "verify_batch", "shared_pool"):
        from ponder.verify import pool

        return getattr(pool, name)
    raise AttributeError(f"module 'ponder.verify' has no attribute {name!r}")
