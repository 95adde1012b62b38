"""The adversarial-backgrounds challenge: does some background make the model misclassify a foreground?

Public API: :func:`run_challenge` (what ``bgbench challenge`` calls; executors in
:mod:`~bgbench.challenge.run` above the serial run of :mod:`~bgbench.challenge.serial`) with its
settings :class:`ChallengeConfig`,
:func:`merge_shards`, :class:`ChallengeResult`, and the pure-tensor engines
:func:`search_backgrounds` (batched early exit) and :func:`fill_matrix` (--full).
See docs/challenge.md.
"""

from bgbench.challenge.config import ChallengeConfig
from bgbench.challenge.full import fill_matrix
from bgbench.challenge.result import ChallengeResult
from bgbench.challenge.run import run_challenge
from bgbench.challenge.search import Outcome, search_backgrounds
from bgbench.challenge.shard import merge_shards

__all__ = ["ChallengeConfig", "ChallengeResult", "Outcome", "fill_matrix", "merge_shards", "run_challenge",
           "search_backgrounds"]
