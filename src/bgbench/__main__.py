import sys

from bgbench.cli import main

sys.exit(main())
