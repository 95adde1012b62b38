"""``python -m bgbench``: the command line (see :mod:`bgbench.entry`)."""

from bgbench.entry import run

run()
