"""Token accounting shared by the backends: split a completion's tokens into think / answer.

`ponder.format.segments` gives the character spans of the <think> and final <answer> blocks;
these helpers map them onto tokens. A token counts toward a block when its characters overlap
the block's span (tags included), which is exact for the tiny model's character tokenizer and
off by at most one token at each block edge for BPE tokenizers.
"""

from __future__ import annotations

from ponder.format import segments


def char_spans(pieces: list[str]) -> list[tuple[int, int]]:
    """(start, end) character span of each token, given each token's text in order."""
    spans, pos = [], 0
    for p in pieces:
        spans.append((pos, pos + len(p)))
        pos += len(p)
    return spans


def token_pieces(tokenizer, token_ids: list[int], text: str) -> list[str]:
    """Each token's text, such that their concatenation starts with `text`.

    Decoding tokens one at a time is exact for character and byte-level BPE tokenizers on ASCII;
    where it is not (SentencePiece drops leading spaces), fall back to decoding prefixes.
    """
    pieces = [tokenizer.decode([t], skip_special_tokens=False) for t in token_ids]
    if "".join(pieces).startswith(text):
        return pieces
    out, prev = [], ""
    for i in range(1, len(token_ids) + 1):
        cur = tokenizer.decode(token_ids[:i], skip_special_tokens=False)
        out.append(cur[len(prev) :] if cur.startswith(prev) else cur)
        prev = cur
    return out


def segment_token_counts(text: str, spans: list[tuple[int, int]]) -> tuple[int, int]:
    """(think_tokens, answer_tokens): tokens whose character span overlaps each block of `text`."""
    seg = segments(text)

    def count(block: tuple[int, int] | None) -> int:
        if block is None:
            return 0
        lo, hi = block
        return sum(1 for s, e in spans if s < hi and e > lo)

    return count(seg["think"]), count(seg["answer"])


def estimate_segment_counts(text: str, num_tokens: int) -> tuple[int, int]:
    """(think_tokens, answer_tokens) pro rata by characters, for servers that give no token detail."""
    if not text or not num_tokens:
        return 0, 0
    seg = segments(text)
    think = seg["think"][1] - seg["think"][0] if seg["think"] else 0
    answer = seg["answer"][1] - seg["answer"][0] if seg["answer"] else 0
    return round(num_tokens * think / len(text)), round(num_tokens * answer / len(text))
