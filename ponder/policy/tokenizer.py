"""The tiny model's character-level tokenizer.

One token per character (printable ASCII, newline and tab), plus ponder's format tags
(`<plan>`, `</plan>`, `<think>`, `</think>`, `<answer>`, `</answer>`) and the sub-call markers
(`<spawn>`, `</spawn>`, `<join>`, `<result>`, `</result>`) as single tokens and the
specials `<pad>`, `<s>`, `</s>`, `<unk>`. It is an ordinary `PreTrainedTokenizerFast` saved with
`save_pretrained`, so `AutoTokenizer.from_pretrained(dir)` and vLLM load it like any other.

How: a `tokenizers` BPE model whose vocabulary is the single characters and which has no merges,
so every character stays its own token, and a `Fuse` decoder, so decoding concatenates tokens
without inserting spaces. `decode(encode(text)) == text` for any printable-ASCII text
(`clean_up_tokenization_spaces` is off: it would otherwise eat the space in "3 ." ).
No BOS/EOS is added by `encode`; training appends EOS to completions itself.
"""

from __future__ import annotations

import string

from ponder.format import CALL_TAGS, TAGS

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)
# printable ASCII minus the vertical whitespace we do not want as distinct tokens
CHARS = tuple(sorted(set(string.printable) - set("\r\x0b\x0c")))


def build_tokenizer():
    """A fresh `PreTrainedTokenizerFast` over CHARS + TAGS + SPECIALS (ids are stable)."""
    from tokenizers import Tokenizer, decoders, models
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(SPECIALS + CHARS)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token=UNK))
    tok.decoder = decoders.Fuse()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token=PAD,
        bos_token=BOS,
        eos_token=EOS,
        unk_token=UNK,
        clean_up_tokenization_spaces=False,
        padding_side="left",
        model_max_length=512,
    )
    # added (not special): kept by decode(skip_special_tokens=True); the call tags come after the
    # format tags, so the ids of models built before them are unchanged
    fast.add_tokens(list(TAGS) + list(CALL_TAGS))
    return fast
