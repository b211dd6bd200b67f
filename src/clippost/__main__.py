"""`python -m clippost`: the same as the `clippost` command."""

import sys

from clippost.cli import main

sys.exit(main())
