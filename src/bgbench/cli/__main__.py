"""``python -m bgbench``: the command line (a Ctrl-C even while it starts is one line, exit 130)."""

import sys

try:
    from bgbench.cli import main
except KeyboardInterrupt:  # Ctrl-C while the command line is still importing
    main = None

if main is None:
    print("interrupted; rerun to resume", file=sys.stderr)
    sys.exit(130)
sys.exit(main())
