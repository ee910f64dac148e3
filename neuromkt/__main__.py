"""``python -m neuromkt``: the same as the ``neuromkt`` command."""

from neuromkt.cli import main

raise SystemExit(main())
