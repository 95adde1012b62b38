"""The adversarial-backgrounds challenge: does some background make the model misclassify a foreground?

Public API: :func:`run_challenge` (what ``bgbench challenge`` calls), :func:`merge_shards`, and the
pure-tensor engines :func:`search_backgrounds` (batched early exit) and :func:`fill_matrix` (--full).
See docs/challenge.md.
"""

from bgbench.challenge.full import fill_matrix
from bgbench.challenge.run import DEFAULT_MODEL, run_challenge
from bgbench.challenge.search import Outcome, search_backgrounds
from bgbench.challenge.shard import merge_shards

__all__ = ["DEFAULT_MODEL", "Outcome", "fill_matrix", "merge_shards", "run_challenge", "search_backgrounds"]
