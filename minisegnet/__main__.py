"""``python -m minisegnet`` is the ``minisegnet`` command."""

from .cli import main

raise SystemExit(main())
