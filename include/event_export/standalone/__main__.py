"""`python -m event_export.standalone up|down` (the Makefile's `make up` and `make down`)."""

import sys

from event_export.standalone.up import main

sys.exit(main())
