"""Webhook signing and verification against the reference ``standardwebhooks`` library.

Every case in a group does the same job on the same 1 KiB JSON body. The verify groups check a
delivery whose headers carry one ``v1`` signature, signed a moment ago: the peer reads the
wall clock itself, so the timestamps are real Unix time. The peer is asked not to parse the
JSON (``json_parse=False``) so that it, too, only verifies. The floors are hand-written with
``hmac.digest`` and ``hmac.compare_digest`` over a dict with the exact lower-case keys: no
case-insensitive lookup, no tolerance of junk entries, no reasons, no hooks.

The replay-guard group remembers a fresh id per operation (ids are pre-generated), with
``cachetools.TTLCache`` under a lock as the peer: a fixed time-to-live per key, where ours keeps
each id until its own timestamp plus the tolerance.
"""

from __future__ import annotations

import base64
import hmac
import json
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone

from cachetools import TTLCache
from standardwebhooks.webhooks import Webhook as SW  # noqa: N814 - short for the reference

from benchmarks._harness import Case
from commerce_kit.webhooks import MemoryReplayStore, StripeWebhook, Webhook

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
KEY = base64.b64decode(SECRET.removeprefix("whsec_"))
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
BODY = json.dumps(
    {"type": "stock.updated", "data": {"sku": "SKU-1", "items": ["x" * 40] * 20}}
).encode()[:1024]
BODY = BODY.ljust(1024, b" ")
N = 20_000


def _headers() -> dict[str, str]:
    return Webhook(SECRET).sign_headers(MSG_ID, int(time.time()), BODY)


# -- verify ------------------------------------------------------------------------------------


def _ours_verify() -> Callable[[], object]:
    hook = Webhook(SECRET, replay_store=None)
    headers = _headers()
    return lambda: hook.verify(BODY, headers)


def _ours_verify_guarded() -> Callable[[], object]:
    hook = Webhook(SECRET)
    now = int(time.time())
    deliveries = iter([hook.sign_headers(f"msg_{n}", now, BODY) for n in range(N)])
    verify = hook.verify
    return lambda: verify(BODY, next(deliveries))


def _peer_verify() -> Callable[[], object]:
    hook = SW(SECRET)
    headers = _headers()
    return lambda: hook.verify(BODY, headers, json_parse=False)


def _floor_verify() -> Callable[[], object]:
    headers = _headers()

    def verify() -> bytes:
        msg_id = headers["webhook-id"]
        ts = headers["webhook-timestamp"]
        if abs(time.time() - int(ts)) > 300:
            raise ValueError("stale")
        mac = hmac.digest(KEY, f"{msg_id}.{ts}.".encode() + BODY, "sha256")
        expected = base64.b64encode(mac).decode()
        for entry in headers["webhook-signature"].split(" "):
            version, _, sig = entry.partition(",")
            if version == "v1" and hmac.compare_digest(expected, sig):
                return BODY
        raise ValueError("no match")

    return verify


# -- sign --------------------------------------------------------------------------------------


def _ours_sign() -> Callable[[], object]:
    sign = Webhook(SECRET, replay_store=None).sign
    ts = int(time.time())
    return lambda: sign(MSG_ID, ts, BODY)


def _peer_sign() -> Callable[[], object]:
    sign = SW(SECRET).sign
    when = datetime.now(tz=timezone.utc)
    text = BODY.decode()
    return lambda: sign(MSG_ID, when, text)


def _floor_sign() -> Callable[[], object]:
    ts = int(time.time())

    def sign() -> str:
        mac = hmac.digest(KEY, f"{MSG_ID}.{ts}.".encode() + BODY, "sha256")
        return "v1," + base64.b64encode(mac).decode()

    return sign


# -- Stripe --------------------------------------------------------------------------------------

STRIPE_SECRET = "whsec_test_secret"


def _ours_stripe() -> Callable[[], object]:
    hook = StripeWebhook(STRIPE_SECRET, replay_store=None)
    header = hook.sign(None, BODY)
    return lambda: hook.verify(BODY, header)


def _floor_stripe() -> Callable[[], object]:
    header = StripeWebhook(STRIPE_SECRET).sign(None, BODY)
    key = STRIPE_SECRET.encode()

    def verify() -> bytes:
        items = dict(item.split("=", 1) for item in header.split(","))
        t = items["t"]
        if abs(time.time() - int(t)) > 300:
            raise ValueError("stale")
        expected = hmac.digest(key, t.encode() + b"." + BODY, "sha256").hex()
        if hmac.compare_digest(expected, items["v1"]):
            return BODY
        raise ValueError("no match")

    return verify


# -- replay guard ----------------------------------------------------------------------------------


def _deliveries() -> list[tuple[str, float]]:
    """Fresh ids with expiries rising as real timestamps do (1 ms apart)."""
    start = time.time() + 300
    return [(f"msg_{n}", start + n / 1000) for n in range(N)]


def _ours_guard() -> Callable[[], object]:
    store = MemoryReplayStore()
    deliveries = iter(_deliveries())
    seen_or_add = store.seen_or_add
    return lambda: seen_or_add(*next(deliveries))


def _peer_guard() -> Callable[[], object]:
    cache: TTLCache[str, bool] = TTLCache(maxsize=100_000, ttl=300, timer=time.time)
    lock = threading.Lock()
    deliveries = iter(_deliveries())

    def seen_or_add() -> bool:
        key, _ = next(deliveries)
        with lock:
            if key in cache:
                return True
            cache[key] = True
            return False

    return seen_or_add


def _floor_guard() -> Callable[[], object]:
    seen: dict[str, float] = {}
    deliveries = iter(_deliveries())

    def seen_or_add() -> bool:
        key, expires = next(deliveries)
        if key in seen:
            return True
        seen[key] = expires
        return False

    return seen_or_add


def cases() -> list[Case]:
    verify = "webhooks: verify Standard Webhooks, 1 KiB body"
    sign = "webhooks: sign Standard Webhooks, 1 KiB body"
    stripe = "webhooks: verify Stripe-Signature, 1 KiB body"
    guard = "webhooks: replay guard, remember a new id"
    return [
        Case(verify, "commerce_kit Webhook.verify", "ours", _ours_verify),
        Case(verify, "standardwebhooks Webhook.verify", "peer", _peer_verify),
        Case(verify, "hand-written hmac.digest + compare_digest", "floor", _floor_verify),
        Case(sign, "commerce_kit Webhook.sign", "ours", _ours_sign),
        Case(sign, "standardwebhooks Webhook.sign", "peer", _peer_sign),
        Case(sign, "hand-written hmac.digest + b64encode", "floor", _floor_sign),
        Case(stripe, "commerce_kit StripeWebhook.verify", "ours", _ours_stripe),
        Case(stripe, "hand-written hmac.digest + compare_digest", "floor", _floor_stripe),
        Case(
            "webhooks: verify + replay guard, new id each time",
            "commerce_kit Webhook.verify (memory guard)",
            "ours",
            _ours_verify_guarded,
            number=N,
        ),
        Case(guard, "commerce_kit MemoryReplayStore", "ours", _ours_guard, number=N),
        Case(guard, "cachetools TTLCache + Lock", "peer", _peer_guard, number=N),
        Case(guard, "dict, unbounded, no expiry, no lock", "floor", _floor_guard, number=N),
    ]
