"""``python -m shop``: the same as the ``shop`` command."""

from shop.cli import main

raise SystemExit(main())
