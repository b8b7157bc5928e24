"""ponder: train and measure next-generation reasoning with RL from verifiable rewards.

The package mirrors the data flow of DESIGN.md:

    tasks -> Problem -> policy -> Completion -> verify -> rewards
                                    |-> curate / rl (train) / evaluate -> runs (Parquet) -> report
"""

from ponder.errors import PonderError
from ponder.types import Completion, Problem, Sampling

__version__ = "0.1.0"
__all__ = ["Completion", "Problem", "PonderError", "Sampling", "__version__"]
