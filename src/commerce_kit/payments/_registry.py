"""The registry of payment methods: explicit registration plus entry-point plugins."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import NamedTuple, TypeVar

from commerce_kit._errors import RegistryError, UnknownPaymentMethodError
from commerce_kit.payments._strategy import PaymentStrategy

__all__ = [
    "ENTRY_POINT_GROUP",
    "PaymentMethodInfo",
    "PaymentMethodRegistry",
    "registry",
]

_LOG = logging.getLogger("commerce_kit.payments")

#: The entry-point group third-party packages use to add payment methods.
ENTRY_POINT_GROUP = "commerce_kit.payment_methods"

T = TypeVar("T", bound="PaymentStrategy | Callable[[], PaymentStrategy]")


# A named tuple rather than a dataclass: a template unpacks ``for name, label in ...`` and the
# attribute names still read well.
class PaymentMethodInfo(NamedTuple):
    """What a checkout page needs to list a payment method.

    .. versionadded:: 0.1.0
    """

    #: The registry key to send back when the customer picks this method.
    name: str
    #: The label to show.
    display_name: str


def _instantiate(obj: object, origin: str) -> PaymentStrategy:
    """Turn a registered object (an instance, a class or a factory) into a strategy."""
    if isinstance(obj, type) or (callable(obj) and not isinstance(obj, PaymentStrategy)):
        obj = obj()
    if not isinstance(obj, PaymentStrategy):
        raise TypeError(
            f"{origin} is not a PaymentStrategy (it needs name, display_name, charge, refund, "
            f"acharge and arefund), got {type(obj).__name__}"
        )
    name: object = obj.name  # a plugin's annotations are no promise
    if not isinstance(name, str) or not name:
        raise TypeError(f"{origin}: a payment method's name must be a non-empty string")
    return obj


class PaymentMethodRegistry:
    """Payment methods by name: what a checkout lists, and what the gateway charges through.

    Methods are registered explicitly with :meth:`register`, or discovered from the entry-point
    group :data:`ENTRY_POINT_GROUP` of installed packages, so a new method ships as a package
    and needs no change to existing code. Discovery happens once, lazily, on the first lookup or
    listing; an entry point that fails to load is logged and skipped. An explicitly registered
    method wins over a plugin of the same name. The registry is safe to share between threads.

    Args:
        entry_point_group: The group to discover plugins from, or ``None`` for a registry that
            holds only what is registered explicitly (useful in tests).

    Example:
        >>> from commerce_kit.payments import PaymentMethodRegistry
        >>> from commerce_kit.testing import SandboxCard, SandboxWallet
        >>> methods = PaymentMethodRegistry(entry_point_group=None)
        >>> methods.register(SandboxCard())
        SandboxCard(name='card')
        >>> methods.register(SandboxWallet) is SandboxWallet  # a class is instantiated once
        True
        >>> [tuple(info) for info in methods.available()]
        [('card', 'Credit or debit card'), ('wallet', 'PayPal-style wallet')]

    .. versionadded:: 0.1.0
    """

    def __init__(self, *, entry_point_group: str | None = ENTRY_POINT_GROUP) -> None:
        self._group = entry_point_group
        self._methods: dict[str, PaymentStrategy] = {}
        self._plugins: set[str] = set()
        self._discovered = entry_point_group is None
        # Re-entrant: a plugin's import may itself look something up in this registry.
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"PaymentMethodRegistry(entry_point_group={self._group!r})"

    def register(self, strategy: T, *, replace: bool = False) -> T:
        """Add a payment method; usable as a call or as a class decorator.

        Args:
            strategy: A strategy instance, or a class (or zero-argument factory) that builds
                one; a class is instantiated once, now. Its ``name`` is the registry key.
            replace: Whether an existing method of the same name may be replaced.

        Returns:
            ``strategy`` unchanged, so a decorated class stays a class.

        Raises:
            RegistryError: A method of the same name is registered and ``replace`` is false.
            TypeError: ``strategy`` is not (and does not build) a payment strategy.
        """
        instance = _instantiate(strategy, repr(strategy))
        name = instance.name
        with self._lock:
            if name in self._methods and not replace and name not in self._plugins:
                raise RegistryError(f"a payment method named {name!r} is already registered")
            self._methods[name] = instance
            self._plugins.discard(name)
        return strategy

    def unregister(self, name: str) -> PaymentStrategy:
        """Remove a payment method and return it.

        Args:
            name: The registry key.

        Returns:
            The strategy that was registered.

        Raises:
            UnknownPaymentMethodError: No method is registered under ``name``.
        """
        self._discover()
        with self._lock:
            strategy = self.get(name)
            del self._methods[name]
            self._plugins.discard(name)
        return strategy

    def get(self, name: str) -> PaymentStrategy:
        """Return the payment method registered under ``name``.

        Args:
            name: The registry key, such as ``"card"``.

        Returns:
            The strategy.

        Raises:
            UnknownPaymentMethodError: No method is registered under ``name``; the error lists
                the known names.
        """
        if not self._discovered:
            self._discover()
        try:
            return self._methods[name]
        except KeyError:
            known = tuple(self._methods)
            raise UnknownPaymentMethodError(
                f"no payment method named {name!r}; registered: {', '.join(known) or 'none'}",
                method=name,
                known=known,
            ) from None

    def names(self) -> tuple[str, ...]:
        """Return the registered names, in registration order."""
        self._discover()
        return tuple(self._methods)

    def available(self) -> tuple[PaymentMethodInfo, ...]:
        """Return ``(name, display_name)`` of every method, in registration order.

        Returns:
            One :class:`PaymentMethodInfo` per method, ready for a checkout page.
        """
        return tuple(PaymentMethodInfo(s.name, s.display_name) for s in self)

    def __iter__(self) -> Iterator[PaymentStrategy]:
        """Iterate over the registered strategies, in registration order."""
        self._discover()
        with self._lock:
            snapshot = tuple(self._methods.values())
        return iter(snapshot)

    def __len__(self) -> int:
        self._discover()
        return len(self._methods)

    def __contains__(self, name: object) -> bool:
        self._discover()
        return name in self._methods

    def _discover(self) -> None:
        """Load the entry-point group once; log and skip whatever fails."""
        if not self._discovered:
            self._load_plugins()

    def _load_plugins(self) -> None:
        with self._lock:
            group = self._group
            if self._discovered or group is None:
                return
            self._discovered = True
            for ep in entry_points(group=group):
                origin = f"entry point {ep.name!r} ({ep.value})"
                try:
                    strategy = _instantiate(ep.load(), origin)
                except Exception:  # noqa: BLE001 - a broken plugin must not break the registry
                    _LOG.exception("payment method plugin %s failed to load; skipped", origin)
                    continue
                name = strategy.name
                if name in self._methods:
                    _LOG.warning(
                        "payment method plugin %s provides %r, which is already registered; "
                        "skipped",
                        origin,
                        name,
                    )
                    continue
                self._methods[name] = strategy
                self._plugins.add(name)


#: The default registry: plugins from :data:`ENTRY_POINT_GROUP`, plus what the application
#: registers. It starts without the sandboxes; register them in test and demo setups.
registry = PaymentMethodRegistry()
