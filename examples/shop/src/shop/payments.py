"""The payment methods the shop offers and the gateway it charges through.

Methods come from a :class:`~commerce_kit.payments.PaymentMethodRegistry` that discovers
installed plugins (the ``commerce_kit.payment_methods`` entry points), plus the sandboxes, so a
method added by a package appears at checkout with no change to the shop.
"""

from __future__ import annotations

from commerce_kit import CircuitBreakerRegistry, CircuitState
from commerce_kit.payments import PaymentGateway, PaymentMethodRegistry
from commerce_kit.testing import SandboxCard, SandboxCrypto, SandboxProvider, SandboxWallet

from shop.settings import Settings

__all__ = ["BREAKER_STATE_VALUES", "Payments", "build_payments"]

#: Gauge values of a breaker state in ``/metrics``.
BREAKER_STATE_VALUES = {
    CircuitState.CLOSED: 0.0,
    CircuitState.HALF_OPEN: 1.0,
    CircuitState.OPEN: 2.0,
    CircuitState.FORCED_OPEN: 2.0,
}


class Payments:
    """The registry, the sandboxes it holds, and the gateway."""

    def __init__(
        self,
        methods: PaymentMethodRegistry,
        gateway: PaymentGateway,
        sandboxes: tuple[SandboxProvider, ...],
    ) -> None:
        self.methods = methods
        self.gateway = gateway
        self.sandboxes = sandboxes

    def breaker_states(self) -> dict[str, float]:
        """Return each method's breaker state as a gauge value."""
        return {
            name: BREAKER_STATE_VALUES.get(self.gateway.breaker(name).state, 0.0)
            for name in self.methods.names()
        }


def build_payments(settings: Settings, breakers: CircuitBreakerRegistry | None = None) -> Payments:
    """Build the registry (plugins and sandboxes) and the gateway for ``settings``.

    ``breakers`` replaces the gateway's own (in-memory) breakers, for example with breakers
    shared by a fleet through Redis (:meth:`shop.scale.Fleet.breakers`).
    """
    methods = PaymentMethodRegistry()
    sandboxes: tuple[SandboxProvider, ...] = (
        SandboxCard(failure_rate=settings.sandbox_failure_rate, outage=settings.sandbox_down),
        SandboxWallet(failure_rate=settings.sandbox_failure_rate, outage=settings.sandbox_down),
        SandboxCrypto(failure_rate=settings.sandbox_failure_rate, outage=settings.sandbox_down),
    )
    for sandbox in sandboxes:
        if sandbox.name not in methods:
            methods.register(sandbox)
    # The library's defaults are the specification (A2): 3 attempts with backoff, a 5 s
    # deadline, a breaker per method opening after 3 failed payments in 60 s for 30 s.
    gateway = PaymentGateway(methods, breakers=breakers)
    return Payments(methods, gateway, sandboxes)
