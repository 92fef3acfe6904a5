"""``python -m broadcaster`` runs the CLI."""

import sys

from broadcaster.cli import main

sys.exit(main())
