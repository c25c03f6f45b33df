"""The public surface: each name has one home, and each public module's ``__all__`` is pinned.

A change to the public API changes a set below, on purpose and in review.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import subprocess
import sys
from collections import Counter
from importlib.metadata import version
from pathlib import Path

import pytest

import commerce_kit

EXPECTED: dict[str, set[str]] = {
    "commerce_kit": {
        "CircuitBreaker",
        "CircuitBreakerRegistry",
        "CircuitOpenError",
        "CircuitState",
        "CommerceKitError",
        "FeedError",
        "NonIdempotentRetryError",
        "OutOfStockError",
        "PaymentError",
        "RateLimit",
        "RateLimitDecision",
        "RateLimitExceeded",
        "RateLimitStrategy",
        "RateLimiter",
        "RegistryError",
        "RetryBudget",
        "RetryPolicy",
        "TTLCache",
        "WebhookVerificationError",
        "retry",
        "retrying",
    },
    "commerce_kit.resilience": {
        "Attempt",
        "BreakerRecord",
        "BreakerSnapshot",
        "CacheStats",
        "CallFailed",
        "CallRejected",
        "CallSucceeded",
        "EntryEvicted",
        "EvictionReason",
        "GiveUpReason",
        "Jitter",
        "HitDenied",
        "LoadFinished",
        "MemoryBreakerCell",
        "MemoryBreakerStore",
        "RetryGaveUp",
        "RetryLoop",
        "RetryScheduled",
        "StateChanged",
        "retry_after_hint",
    },
    "commerce_kit.http": {
        "HTTP_STATUS",
        "MEDIA_TYPE",
        "PROBLEM_TYPE_BASE",
        "Problem",
        "UserMessage",
        "format_retry_after",
        "problem_for",
        "user_message_for",
    },
    "commerce_kit.typing": {
        "AsyncSleep",
        "BreakerCell",
        "BreakerEvent",
        "BreakerStore",
        "CacheEvent",
        "Clock",
        "ExceptionMatcher",
        "FeedAdapter",
        "FeedEvent",
        "FeedFile",
        "FeedHook",
        "FeedSource",
        "PaymentEvent",
        "PaymentHook",
        "PaymentStrategy",
        "RateLimitStore",
        "ReplayStore",
        "RetryEvent",
        "RetryHook",
        "RetryOptions",
        "Sleep",
        "SourceRecord",
        "ValidationEvent",
        "WebhookEvent",
        "WebhookHook",
    },
    "commerce_kit.testing": {
        "LedgerEntry",
        "LedgerKind",
        "ManualClock",
        "SandboxCard",
        "SandboxCrypto",
        "SandboxProvider",
        "SandboxWallet",
    },
    "commerce_kit.feeds": {
        "FIELD_MAPS",
        "CsvAdapter",
        "FeedAdapterRegistry",
        "FeedFinished",
        "FeedFormatError",
        "FeedLimitError",
        "FeedLimits",
        "FeedProgress",
        "FeedRecord",
        "FieldMap",
        "GoogleMerchantAdapter",
        "JsonAdapter",
        "NdjsonAdapter",
        "RecordSkipped",
        "TsvAdapter",
        "UnknownFeedFormatError",
        "UnsafeFeedError",
        "XmlAdapter",
        "detect_field_map",
        "parse_feed",
        "parse_feed_text",
        "registry",
    },
    "commerce_kit.validation": {
        "CURRENCY_MINOR_UNITS",
        "ERROR_CODES",
        "CurrencyCode",
        "Gtin",
        "Money",
        "Product",
        "RecordError",
        "RecordRejected",
        "RecordResult",
        "SafeHtml",
        "SafeText",
        "SanitizedHtml",
        "SanitizedText",
        "SecurityEvent",
        "SecurityMode",
        "SecurityPolicy",
        "Sku",
        "StockLevel",
        "Threat",
        "ThreatCategory",
        "ValidationFinished",
        "ValidationReport",
        "Validator",
        "WebUrl",
        "excerpt",
        "neutralize_formula",
        "sanitize_html",
        "sanitize_text",
    },
    "commerce_kit.payments": {
        "ENTRY_POINT_GROUP",
        "PaymentAttempted",
        "PaymentDeclinedError",
        "PaymentFinished",
        "PaymentGateway",
        "PaymentMethodInfo",
        "PaymentMethodRegistry",
        "PaymentOperation",
        "PaymentOutcome",
        "PaymentRequest",
        "PaymentResult",
        "PaymentStatus",
        "PaymentUnavailableError",
        "RefundResult",
        "SyncPaymentStrategy",
        "UnknownPaymentMethodError",
        "minor_units",
        "registry",
    },
    "commerce_kit.webhooks": {
        "FailureReason",
        "MemoryReplayStore",
        "StripeWebhook",
        "Webhook",
        "WebhookRejected",
        "WebhookVerified",
        "generate_secret",
    },
}

# The same short name in two areas, for two different objects: each area's default registry.
SHARED_NAMES = {"registry"}

SRC = Path(commerce_kit.__file__).parent
# The bottom of the package: these import nothing of commerce_kit.
BASE_MODULES = ("_duration.py", "_errors.py", "_hooks.py", "_http_headers.py", "_types.py")


def _isort_style(name: str) -> tuple[int, str]:
    """Ruff's ``__all__`` order (RUF022): CONSTANTS, then CamelCase, then the rest, each A-Z."""
    group = 0 if name.isupper() else 1 if name[:1].isupper() else 2
    return group, name


@pytest.mark.parametrize("module_name", sorted(EXPECTED))
def test_all_is_pinned_sorted_and_unique(module_name: str) -> None:
    exported = importlib.import_module(module_name).__all__
    assert (EXPECTED[module_name], sorted(set(exported), key=_isort_style)) == (
        set(exported),
        exported,
    )


@pytest.mark.parametrize("module_name", sorted(EXPECTED))
def test_every_exported_name_resolves(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert [] == [name for name in module.__all__ if not hasattr(module, name)]


def test_no_name_is_exported_by_two_public_modules() -> None:
    counts = Counter(name for names in EXPECTED.values() for name in names)
    assert SHARED_NAMES == {name for name, count in counts.items() if count > 1}


def test_the_shared_short_names_are_different_objects() -> None:
    from commerce_kit import feeds, payments  # noqa: PLC0415

    feed_adapters: object = feeds.registry
    assert feed_adapters is not payments.registry


def test_no_object_is_importable_from_two_public_modules() -> None:
    homes: dict[int, list[str]] = {}
    for module_name, names in EXPECTED.items():
        module = importlib.import_module(module_name)
        for name in names:
            obj = getattr(module, name)
            if isinstance(obj, (type, staticmethod)) or inspect.isroutine(obj):
                homes.setdefault(id(obj), []).append(f"{module_name}.{name}")
    assert [] == [paths for paths in homes.values() if len(paths) > 1]


def test_every_public_error_has_a_home() -> None:
    import commerce_kit._errors  # noqa: PLC0415

    errors = {
        name
        for name, obj in vars(commerce_kit._errors).items()
        if isinstance(obj, type) and issubclass(obj, commerce_kit.CommerceKitError)
    }
    exported = {name for names in EXPECTED.values() for name in names}
    assert set() == errors - exported


def test_the_typing_module_defines_nothing_it_only_hands_names_on() -> None:
    import commerce_kit.typing  # noqa: PLC0415

    defined_here = [
        name
        for name in commerce_kit.typing.__all__
        if getattr(getattr(commerce_kit.typing, name), "__module__", "") == "commerce_kit.typing"
    ]
    assert [] == defined_here


def _imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("base", BASE_MODULES)
def test_the_base_modules_import_nothing_above_them(base: str) -> None:
    ours = {m for m in _imported_modules(SRC / base) if m.split(".")[0] == "commerce_kit"}
    assert set() == ours


def test_nothing_inside_the_package_imports_the_typing_face() -> None:
    importers = [
        str(path.relative_to(SRC))
        for path in sorted(SRC.rglob("*.py"))
        if path.name != "typing.py" and "commerce_kit.typing" in _imported_modules(path)
    ]
    assert [] == importers


def test_version_comes_from_metadata_lazily() -> None:
    assert "__version__" not in vars(commerce_kit)
    assert version("commerce-kit") == commerce_kit.__version__


def test_unknown_attribute_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="does_not_exist"):
        _ = commerce_kit.does_not_exist  # type: ignore[attr-defined]


@pytest.mark.parametrize("module_name", ["commerce_kit.testing", "commerce_kit.typing"])
def test_lazy_modules_refuse_unknown_attributes(module_name: str) -> None:
    module = importlib.import_module(module_name)
    with pytest.raises(AttributeError, match="does_not_exist"):
        _ = module.does_not_exist


@pytest.mark.parametrize(
    "module_name",
    ["commerce_kit.http", "commerce_kit.resilience", "commerce_kit.testing", "commerce_kit.typing"],
)
def test_the_standard_library_faces_load_no_third_party_module(module_name: str) -> None:
    """The core's faces stay light: the typing face loads the pydantic-based areas on demand."""
    probe = (
        "import sys\n"
        "before = set(sys.modules)\n"
        f"import {module_name}\n"
        "tops = {m.split('.')[0] for m in set(sys.modules) - before}\n"
        "print(sorted(t for t in tops if t not in sys.stdlib_module_names and t != 'commerce_kit'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout
    assert "[]" == out.strip()
