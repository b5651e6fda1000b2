"""``python -m alpr``: the same as the ``alpr`` command."""

import sys

from alpr.cli import main

if __name__ == "__main__":
    sys.exit(main())
