"""A short demo of commerce_kit's resilience core; grows as components land."""

from __future__ import annotations


def main() -> None:
    print("commerce_kit demo")


if __name__ == "__main__":
    main()
