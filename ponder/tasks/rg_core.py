"""reasoning-gym items from a recipe, and the entry codec that carries them inside a Problem.

Shipped into the scoring sandbox as source (see `ponder.tasks.rg_score`), so it imports only
the standard library and reasoning_gym, never the rest of ponder.

A *recipe* names one rg dataset object completely, as plain JSON:
    {"name": "countdown", "level": 2, "seed": 81234, "size": 1000, "clamps": {"min_x": [6, null]}}
`level` is the curriculum's global level (None: the dataset's config defaults), `seed`/`size`
go into rg's config, `clamps` bound config fields after the curriculum set them (rg's
curricula ask some datasets for values their own configs refuse). Item `j` of the recipe's
dataset is what rg generates from `Random(seed + j)`.

Determinism beyond rg's seeding: before each item the global `random` and `numpy.random`
are seeded from (recipe, j) (some generators draw from them unseeded), the decimal context is
reset (decimal_arithmetic sets its precision globally, which rounded decimal_chain_sum's answers
generated after it), and the class-level data some datasets overwrite on construction is restored
to the object's own (codeio keeps its task list in a class attribute, so building another level
changed the level-1 items). Generation runs with PYTHONHASHSEED=0 (the caller arranges that):
set iteration order decides some items. `PATCHES` make slow generators fast without changing
what they generate.

The codec turns an entry's metadata into JSON that decodes to the same Python values: tuples,
sets, non-string dict keys and non-finite floats are tagged; anything else (objects, numpy
arrays) cannot be carried and the scorer regenerates the item from its recipe instead.
"""

from __future__ import annotations

import base64
import dataclasses
import decimal
import json
import math
import random
import sys
import zlib
from collections import OrderedDict

TAG = "$rg"
CARRY_PLAIN_BYTES = 16_384  # larger metadata is carried zlib-compressed (base64)
CARRY_MAX_BYTES = 262_144  # larger even compressed: not carried, the scorer regenerates it
CACHE_OBJECTS = 32  # dataset objects kept per process (construction can take a second)
# datasets whose constructor overwrites class-level data the items are drawn from
SHARED_CLASS_STATE = {"codeio": ("_jsonl_data",)}


# -- recipes ------------------------------------------------------------------------------------
def key(recipe: dict) -> str:
    return json.dumps(recipe, sort_keys=True, separators=(",", ":"))


def config_args(recipe: dict) -> tuple[type, type, dict]:
    """(dataset class, config class, config keyword arguments) of a recipe, clamps applied."""
    from reasoning_gym import factory
    from reasoning_gym.coaching.base_curriculum import DefaultCurriculumContext, RangeAttributeMode

    cls, config_cls = factory.DATASETS[recipe["name"]]
    fields = {f.name for f in dataclasses.fields(config_cls)}
    args = {k: recipe[k] for k in ("seed", "size") if k in fields}
    if recipe["level"] is not None:
        cur = factory.create_curriculum(recipe["name"])
        cur.set_global_level(recipe["level"])
        cur._config_cls = dict  # capture the arguments: clamp them before the config validates
        args = cur.generate_configuration(args, context=DefaultCurriculumContext(mode=RangeAttributeMode.INCLUSIVE))
    for field, (lo, hi) in recipe.get("clamps", {}).items():
        if lo is not None:
            args[field] = max(lo, args[field])
        if hi is not None:
            args[field] = min(hi, args[field])
    return cls, config_cls, args


def _bound_number_sequence() -> None:
    """number_sequence builds a whole sequence before rejecting it for a term beyond +-1000 (its
    `is_interesting`), and squaring rules make some take minutes of big-integer arithmetic. A
    term beyond 10**6 now ends that sequence at once with OverflowError, which rg's generator
    treats as a rejected attempt: the same items, since rg rejects such a sequence anyway and
    `apply` draws no random numbers. Only terms are bounded, not a composed rule's steps."""
    from reasoning_gym.cognition import number_sequences as ns

    apply, depth = ns.PatternRule.apply, [0]

    def bounded(self, sequence, position):
        depth[0] += 1
        try:
            out = apply(self, sequence, position)
        finally:
            depth[0] -= 1
        if depth[0] == 0 and abs(out) > 10**6:
            raise OverflowError("a term beyond number_sequence's interesting range")
        return out

    ns.PatternRule.apply = bounded


PATCHES = {"number_sequence": _bound_number_sequence}
_patched: set = set()
_objects: OrderedDict = OrderedDict()


def reset_process_state(seed: str) -> None:
    """The process-wide state rg's code reads besides its own RNG, set from `seed`."""
    random.seed(seed)
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed(zlib.crc32(seed.encode()))
    decimal.setcontext(decimal.Context())


def dataset(recipe: dict):
    """The rg dataset object of a recipe (the last CACHE_OBJECTS kept)."""
    k = key(recipe)
    if k in _objects:
        _objects.move_to_end(k)
        return _objects[k]
    if recipe["name"] in PATCHES and recipe["name"] not in _patched:
        PATCHES[recipe["name"]]()
        _patched.add(recipe["name"])
    cls, config_cls, args = config_args(recipe)
    config = config_cls(**args)
    if hasattr(config, "validate"):
        config.validate()
    ds = cls(config=config)
    ds._ponder_shared = {a: getattr(cls, a) for a in SHARED_CLASS_STATE.get(recipe["name"], ())}
    _objects[k] = ds
    while len(_objects) > CACHE_OBJECTS:
        _objects.popitem(last=False)
    return ds


def item(recipe: dict, j: int) -> dict:
    """rg's entry j of the recipe's dataset, generated with the process-wide state pinned."""
    ds = dataset(recipe)
    for attr, value in ds._ponder_shared.items():
        setattr(type(ds), attr, value)
    reset_process_state(f"ponder/rg/{key(recipe)}/{j}")
    return ds[j]


# -- the entry codec ----------------------------------------------------------------------------
def encode(x):
    """A JSON value that `decode` turns back into `x` (TypeError for what it cannot carry)."""
    if x is None or isinstance(x, (bool, int, str)):
        return x
    if isinstance(x, float):
        return x if math.isfinite(x) else {TAG: "float", "v": repr(x)}
    if isinstance(x, list):
        return [encode(v) for v in x]
    if isinstance(x, tuple):
        return {TAG: "tuple", "v": [encode(v) for v in x]}
    if isinstance(x, (set, frozenset)):  # sorted: the JSON must not depend on the hash seed
        return {TAG: type(x).__name__, "v": sorted((encode(v) for v in x), key=json.dumps)}
    if isinstance(x, dict):
        if TAG not in x and all(isinstance(k, str) for k in x):
            return {k: encode(v) for k, v in x.items()}
        return {TAG: "dict", "v": [[encode(k), encode(v)] for k, v in x.items()]}
    raise TypeError(f"cannot carry a {type(x).__name__}")


_DECODE = {
    "float": lambda v: float(v),
    "tuple": lambda v: tuple(decode(x) for x in v),
    "set": lambda v: {decode(x) for x in v},
    "frozenset": lambda v: frozenset(decode(x) for x in v),
    "dict": lambda v: {decode(k): decode(x) for k, x in v},
}


def decode(x):
    if isinstance(x, list):
        return [decode(v) for v in x]
    if isinstance(x, dict):
        if TAG in x:
            return _DECODE[x[TAG]](x["v"])
        return {k: decode(v) for k, v in x.items()}
    return x


def carry(entry: dict) -> dict:
    """What a Problem carries of an rg entry besides its question (the prompt) and a string
    answer (the gold): the metadata, encoded (compressed when large), and the answer where it
    is not a string (None: no reference answer); {} when it cannot be carried."""
    try:
        meta = encode(entry.get("metadata"))
        out = {} if isinstance(entry.get("answer"), str) else {"answer": encode(entry.get("answer"))}
    except TypeError:
        return {}
    text = json.dumps(meta, sort_keys=True, separators=(",", ":"))
    if len(text) <= CARRY_PLAIN_BYTES:
        return {**out, "metadata": meta}
    packed = base64.b64encode(zlib.compress(text.encode(), 9)).decode()
    return {**out, "metadata_z": packed} if len(packed) <= CARRY_MAX_BYTES else {}


def uncarry(carried: dict, question: str, answer: str) -> dict | None:
    """The entry rg's scorer expects, rebuilt from a Problem's prompt, gold answer and what it
    carries; None if it carries nothing (regenerate from the recipe)."""
    if "metadata" in carried:
        meta = decode(carried["metadata"])
    elif "metadata_z" in carried:
        meta = decode(json.loads(zlib.decompress(base64.b64decode(carried["metadata_z"]))))
    else:
        return None
    return {"question": question, "answer": decode(carried.get("answer", answer)), "metadata": meta}
