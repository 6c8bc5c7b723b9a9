"""`python -m evalharness.cli`: the same as the `evalharness` command."""

import sys

from evalharness.cli import main

sys.exit(main())
