"""`python -m tokentree` runs the command line."""

from tokentree.cli import main

raise SystemExit(main())
