"""`python -m heldout.leaderboard -c heldout.toml --oauth-provider URL`."""

import sys

from heldout.leaderboard.cli import main

sys.exit(main())
