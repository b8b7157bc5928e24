"""The headline table of an evaluation's metrics (metrics.json), shared by the report and the compare report.

    rows = headline(metrics)    # [(axis, metric, value, better)], better = HIGHER / LOWER / NEITHER
"""

from __future__ import annotations


# Which way is better for each headline metric, so the compare report colours deltas honestly:
# +1 higher is better, -1 lower is better, 0 neither (e.g. think rate depends on the level).
HIGHER, LOWER, NEITHER = 1, -1, 0


def headline(metrics: dict) -> list[tuple[str, str, float | None, int]]:
    """(axis, metric, value, better) rows of the report's headline table; better is HIGHER/LOWER/NEITHER."""
    s, c, cost = metrics["skills"], metrics["calibration"], metrics["cost"]
    k = s.get("k_max")
    out = [
        ("skills", "accuracy", s["accuracy"], HIGHER),
        ("skills", f"accuracy ({s['strategy']})", s.get("strategy_accuracy"), HIGHER),
    ]
    if k:
        out += [("skills", f"pass@{k}", s["pass_at_k"].get(k, s["pass_at_k"].get(str(k))), HIGHER),
                ("skills", f"maj@{k}", s["maj_at_k"].get(k, s["maj_at_k"].get(str(k))), HIGHER)]
    out += [
        ("calibration", "think rate", c["think_rate"], NEITHER),
        ("calibration", "rho(difficulty, tokens)", c["difficulty_vs_tokens"], HIGHER),
        ("calibration", "rho(failure rate, tokens)", c["failure_rate_vs_tokens"], HIGHER),
        ("calibration", "outcome efficiency", c["outcome_efficiency"], HIGHER),
        ("calibration", "overthinking (extra tokens/sample)", c["overthinking_tokens"], LOWER),
        ("calibration", "underthinking (accuracy lost)", c["underthinking"], LOWER),
        ("calibration", "AUC of OAA (think tokens)", c["auc_oaa_think"], HIGHER),
    ]
    for t, m in metrics["strategy"].items():
        out += [("strategy", f"{t}: plan rate", m["plan_rate"], HIGHER),
                ("strategy", f"{t}: plan validity", m["plan_validity"], HIGHER),
                ("strategy", f"{t}: plan adherence", m["plan_adherence"], HIGHER)]
    for t, m in metrics["abstraction"].items():
        out += [("abstraction", f"{t}: decomposition rate", m.get("decomposition_rate"), HIGHER)]
        if "orchestrated" in m:
            o = m["orchestrated"]
            out += [("abstraction", f"{t}: decomposes (own sub-calls)", o["decompose_rate"], HIGHER),
                    ("abstraction", f"{t}: sub-call accuracy", o["sub_accuracy"], HIGHER),
                    ("abstraction", f"{t}: accuracy orchestrated", o["accuracy"], HIGHER),
                    ("abstraction", f"{t}: accuracy serial (same model)", o["serial_accuracy"], HIGHER),
                    ("abstraction", f"{t}: critical-path tokens", o["critical_path_tokens"], LOWER),
                    ("abstraction", f"{t}: serial tokens", o["serial_tokens"], LOWER),
                    ("abstraction", f"{t}: measured speedup (wall)", o["speedup"], HIGHER)]
    out += [("cost", "generated tokens", cost["generated_tokens"], LOWER), ("cost", "wall time (s)", cost["wall_s"], LOWER),
            ("cost", "inference FLOPs", cost["flops"], LOWER)]
    return out
