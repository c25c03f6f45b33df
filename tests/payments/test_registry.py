"""The payment method registry without plugins: register, look up, list, remove."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from commerce_kit import RegistryError
from commerce_kit.payments import (
    ENTRY_POINT_GROUP,
    PaymentMethodInfo,
    PaymentMethodRegistry,
    UnknownPaymentMethodError,
    registry,
)
from commerce_kit.testing import SandboxCard, SandboxCrypto, SandboxWallet


def _fresh() -> PaymentMethodRegistry:
    return PaymentMethodRegistry(entry_point_group=None)


def test_register_returns_its_argument_so_it_works_as_a_decorator() -> None:
    methods = _fresh()

    @methods.register
    class Card(SandboxCard):
        pass

    assert (Card, "card") == (Card, methods.get("card").name)
    assert isinstance(methods.get("card"), Card)


def test_register_an_instance() -> None:
    methods = _fresh()
    wallet = SandboxWallet()
    assert wallet is methods.register(wallet)
    assert wallet is methods.get("wallet")


def test_register_a_factory() -> None:
    methods = _fresh()
    methods.register(lambda: SandboxCrypto(name="btc"))
    assert ["btc"] == list(methods.names())


def test_duplicate_name_is_refused() -> None:
    methods = _fresh()
    methods.register(SandboxCard())
    with pytest.raises(RegistryError, match="'card' is already registered"):
        methods.register(SandboxCard())


def test_replace_allows_a_duplicate_name() -> None:
    methods = _fresh()
    methods.register(SandboxCard())
    newer = SandboxCard(display_name="Card (new)")
    methods.register(newer, replace=True)
    assert newer is methods.get("card")


def test_unknown_name_lists_the_known_ones() -> None:
    methods = _fresh()
    methods.register(SandboxCard())
    methods.register(SandboxWallet())
    with pytest.raises(UnknownPaymentMethodError, match="registered: card, wallet") as caught:
        methods.get("bitcoin")
    assert ("bitcoin", ("card", "wallet")) == (caught.value.method, caught.value.known)
    assert isinstance(caught.value, LookupError)


def test_unknown_name_in_an_empty_registry() -> None:
    with pytest.raises(UnknownPaymentMethodError, match="registered: none"):
        _fresh().get("card")


def test_unregister_removes_and_returns() -> None:
    methods = _fresh()
    card = methods.register(SandboxCard())
    assert card is methods.unregister("card")
    assert "card" not in methods
    with pytest.raises(UnknownPaymentMethodError):
        methods.unregister("card")


def test_available_lists_names_and_labels_in_registration_order() -> None:
    methods = _fresh()
    for kind in (SandboxWallet, SandboxCard, SandboxCrypto):
        methods.register(kind())
    assert (
        PaymentMethodInfo("wallet", "PayPal-style wallet"),
        PaymentMethodInfo("card", "Credit or debit card"),
        PaymentMethodInfo("crypto", "Cryptocurrency"),
    ) == methods.available()
    assert 3 == len(methods)
    assert ["wallet", "card", "crypto"] == [s.name for s in methods]


@pytest.mark.parametrize("thing", [object(), 42, "card", object, dict])
def test_a_non_strategy_is_refused(thing: object) -> None:
    with pytest.raises(TypeError, match="not a PaymentStrategy"):
        _fresh().register(thing)  # type: ignore[type-var]


@pytest.mark.parametrize("name", ["", None, 7])
def test_a_strategy_needs_a_non_empty_name(name: object) -> None:
    card = SandboxCard()
    card.name = name  # type: ignore[assignment]
    with pytest.raises(TypeError, match="non-empty string"):
        _fresh().register(card)


def test_the_default_registry_discovers_the_standard_group() -> None:
    assert "commerce_kit.payment_methods" == ENTRY_POINT_GROUP
    assert "PaymentMethodRegistry(entry_point_group='commerce_kit.payment_methods')" == repr(
        registry
    )


NAMES = st.sampled_from(["card", "wallet", "crypto", "bnpl"])


class RegistryMachine(RuleBasedStateMachine):
    """The registry behaves like an insertion-ordered dict that refuses silent overwrites."""

    @initialize()
    def start(self) -> None:
        self.methods = _fresh()
        self.model: dict[str, SandboxCard] = {}

    @rule(name=NAMES, replace=st.booleans())
    def register(self, name: str, replace: bool) -> None:
        strategy = SandboxCard(name=name)
        if name in self.model and not replace:
            with pytest.raises(RegistryError):
                self.methods.register(strategy, replace=replace)
            return
        self.methods.register(strategy, replace=replace)
        self.model[name] = strategy

    @rule(name=NAMES)
    def unregister(self, name: str) -> None:
        if name in self.model:
            assert self.model.pop(name) is self.methods.unregister(name)
        else:
            with pytest.raises(UnknownPaymentMethodError):
                self.methods.unregister(name)

    @rule(name=NAMES)
    def get(self, name: str) -> None:
        if name in self.model:
            assert self.model[name] is self.methods.get(name)
        else:
            with pytest.raises(UnknownPaymentMethodError):
                self.methods.get(name)

    @invariant()
    def listing_matches(self) -> None:
        assert tuple(self.model) == self.methods.names()
        assert list(self.model.values()) == list(self.methods)


TestRegistryMachine = RegistryMachine.TestCase
TestRegistryMachine.settings = settings(max_examples=50, stateful_step_count=20, deadline=None)


def test_plugins_are_loaded_once_even_if_asked_twice() -> None:
    methods = PaymentMethodRegistry()
    methods._load_plugins()
    discovered = methods.names()
    methods._load_plugins()
    assert discovered == methods.names()
