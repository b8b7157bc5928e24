"""Token-level reward terms: credit put on the tokens that earned it, beside the sequence's
group advantage. A term of the reward spec whose name is in TOKEN_REWARDS (`plan_legs:0.5`) is
not summed into the sequence reward; the trainer adds its per-token credit to the advantages.

    seq_spec, terms = split_reward("correct:1,plan_legs:0.5")   # "correct:1", [("plan_legs", 0.5)]
    credit, stats = token_credit(terms, batch, tokenizer, prompt_len, width)   # [N, width]
    A[i, t] = A_seq[i, t] + credit[i, t]                         # in `ponder.rl.update.step`

A token-level term is `fn(problems, completions)` returning, per completion, None (the
completion takes no part: for `plan_legs`, it has no plan) or a list of (unit, start, end, value)
character spans of its text. The math, per group g (the G samples of one prompt) and term of
weight w: P_g = the group's completions that take part, c[i, k] = the value of completion i's
span of unit k (0 if it has none), b[k] = mean over i in P_g of c[i, k], and every token of
completion i whose first character lies in its span of unit k gets

    credit[i, t] = w * (c[i, k] - b[k])                          (0 on every other token)

so for `plan_legs` (unit = leg, value = 1 right / 0 wrong, `route`'s `leg_spans`) a wrong leg's
tokens are pushed down by w * (share of the group's plans that got that leg right), a right leg's
pulled up by w * (share that got it wrong), and the rest of the completion (labels of other legs,
the answer) takes the correctness advantage alone.

Departures from the process-reward literature, deliberate:
- DeepSeekMath's process-supervised GRPO (Shao et al. 2024, sec. 4.1.3) normalises every step
  reward by the mean and std of all step rewards of the group and gives token t the SUM of the
  normalised rewards of the steps that end at or after it (a return-to-go). Here a step's credit
  stays on its own tokens: a leg is judged from its TRUE start, whatever earlier steps did, so
  no earlier token influences whether it is right, and a return-to-go would only add noise.
- The baseline is per unit (leg k against the group's other leg-k steps), not one mean over all
  steps: leg 8 of a level-5 route is harder than leg 1, and a pooled mean would push every late
  leg down. No std division: the values are 0/1 and w sets the scale next to the outcome's
  group-normalised advantage (Dr. GRPO drops the std for the same reason: it magnifies groups
  whose values barely differ).
- The outcome advantage (GRPO's, or a mode strategy's) is unchanged and comes from the sequence
  reward only, so a spec without a token-level term trains exactly as before.
- A step beyond the problem's legs is never right, and where no sample of the group writes that
  step its baseline is 0, so it gets no credit (the correctness advantage alone speaks to it).

Single-turn completions only (a multi-turn rollout's spans would cross injected text).
Characters map to tokens by decoding each token id alone when the pieces concatenate to the
completion's text (the tiny model's character tokenizer, and most others), else by decoding
growing prefixes, special tokens skipped as the backends skip them (else kept); a completion whose decoding does not reproduce its text gets no credit
(counted in the `credit_unmapped` metric).
"""

from __future__ import annotations

from typing import Any

from ponder.errors import PonderError

# name -> "module:function" of a token-level term (imported when used)
TOKEN_REWARDS: dict[str, str] = {"plan_legs": "ponder.rewards.strategy:plan_legs"}


def split_reward(spec: str) -> tuple[str, list[tuple[str, float]]]:
    """The reward spec without its token-level terms, and those terms as (name, weight)."""
    seq, terms = [], []
    for part in str(spec).split(","):
        name, _, weight = part.strip().partition(":")
        if name.strip() not in TOKEN_REWARDS:
            if part.strip():
                seq.append(part.strip())
            continue
        try:
            terms.append((name.strip(), float(weight) if weight.strip() else 1.0))
        except ValueError:
            raise PonderError(f"reward spec {spec!r}: weight of {name.strip()!r} must be a number, got {weight!r}") from None
    if terms and not seq:
        raise PonderError(f"reward spec {spec!r}: {terms[0][0]} is token-level credit beside a sequence reward; "
                          f"add one, e.g. correct:1,{terms[0][0]}:{terms[0][1]:g}")
    return ",".join(seq), terms


def _term(name: str):
    from importlib import import_module

    module, _, fn = TOKEN_REWARDS[name].partition(":")
    return getattr(import_module(module), fn)


def unit_credit(spans: list[list[tuple[int, int, int, float]] | None], weight: float
                ) -> list[list[tuple[int, int, float]] | None]:
    """One group's spans -> per completion [(start, end, w * (c[i, k] - b[k]))] (module docstring);
    None stays None (not in P_g)."""
    part = [s for s in spans if s is not None]
    units = {u for s in part for u, *_ in s}
    value = [{u: v for u, _, _, v in s} for s in part]
    base = {u: sum(v.get(u, 0.0) for v in value) / len(part) for u in units}
    return [None if s is None else [(a, b, weight * (v - base[u])) for u, a, b, v in s] for s in spans]


def token_offsets(tokenizer, ids: list[int], text: str) -> list[int] | None:
    """The offset in `text` of each token's first character (len(text) or more for tokens past it,
    e.g. a final EOS), or None when decoding `ids` does not reproduce `text`. Special tokens are
    skipped first, as the backends decode a completion's text (`<unk>`, `<s>` sampled mid-way
    are not in it), then kept."""
    for skip in (True, False):
        pieces = tokenizer.batch_decode([[i] for i in ids], skip_special_tokens=skip, clean_up_tokenization_spaces=False)
        if "".join(pieces)[: len(text)] == text:
            out, n = [], 0
            for p in pieces:
                out.append(n)
                n += len(p)
            return out
    for skip in (True, False):  # pieces that do not concatenate to the whole (merges across tokens)
        def decode(k: int, skip: bool = skip) -> str:
            return tokenizer.decode(ids[:k], skip_special_tokens=skip, clean_up_tokenization_spaces=False)

        if decode(len(ids))[: len(text)] == text:
            return [len(decode(k)) for k in range(len(ids))]
    return None


def token_credit(terms: list[tuple[str, float]], batch, tokenizer, prompt_len, width: int) -> tuple[Any, dict[str, float]]:
    """[N, width] per-token credit of a batch of single-turn completions, laid out as the loss
    mask of `ponder.rl.update.build_tensors` (token t of row i at prompt_len[i] - 1 + t), and
    stats: `credit_abs` (mean |credit| over the tokens inside spans), `credit_unmapped` (completions
    whose text the tokenizer does not reproduce) and, per term, the mean value of its units."""
    import torch

    from ponder.stats import mean

    N, G = len(batch.completions), batch.group_size
    out = torch.zeros(N, width)
    offsets = [token_offsets(tokenizer, list(c.token_ids), c.text) for c in batch.completions]
    stats: dict[str, float] = {"credit_unmapped": float(sum(o is None for o in offsets))}
    credited = []
    for name, w in terms:
        spans = _term(name)(batch.problems, batch.completions)
        stats[name] = mean(v for s in spans if s is not None for *_, v in s)
        for g in range(0, N, G):
            for j, cs in enumerate(unit_credit(spans[g: g + G], w)):
                i = g + j
                if cs is None or offsets[i] is None:
                    continue
                at = int(prompt_len[i]) - 1
                for t, o in enumerate(offsets[i]):
                    x = next((x for a, b, x in cs if a <= o < b), None)
                    if x is not None and at + t < width:
                        out[i, at + t] += x
                        credited.append(abs(x))
    stats["credit_abs"] = mean(credited)
    return out, stats
