"""`python -m recsys ...` is the `recsys` command."""

import sys

from recsys.cli import main

sys.exit(main())
