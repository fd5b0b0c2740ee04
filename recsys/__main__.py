"""`python -m recsys ...` is the `recsys` command."""

import sys

from recsys.cli import main

__all__: list[str] = []

if __name__ == "__main__":
    sys.exit(main())
