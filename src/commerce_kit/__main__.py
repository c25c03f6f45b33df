"""``python -m commerce_kit``: the ``commerce-kit`` command line."""

from __future__ import annotations

from commerce_kit._cli import main

if __name__ == "__main__":
    raise SystemExit(main())
