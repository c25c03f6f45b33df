"""Rate-limit state on Redis: each decision one atomic script, one round trip, on Redis's clock.

The script (``_rate_limit_script.lua``) runs the in-memory strategies' arithmetic step for step.
It reads the time with ``TIME``, so processes whose clocks disagree still agree on every
decision; the limiter's own clock reading is used only by the local fallback.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from importlib import resources
from typing import Any, Literal

import redis
import redis.asyncio

from commerce_kit.redis._guard import FAILED, Failed, RedisGuard
from commerce_kit.redis._script import Script, check_prefix, sends_packed
from commerce_kit.resilience._rate_limit_policy import (
    RateLimit,
    RateLimitDecision,
    RateLimitStrategy,
)
from commerce_kit.resilience._rate_limit_store import MemoryRateLimitStore, Op, describe_op

__all__ = ["RedisRateLimitStore"]

_SOURCE = (
    resources.files("commerce_kit.redis").joinpath("_rate_limit_script.lua").read_text("utf-8")
)
#: Every policy of a limiter in one call, from a description of each (``RateLimiter.multi``).
_GENERIC = Script(_SOURCE)


def _section(start: str, end: str) -> str:
    return _SOURCE[_SOURCE.index(start) : _SOURCE.index(end)]


_PRELUDE = _section("local clock = redis.call('TIME')", "-- exact ---")
_STRATEGY_CODE = {
    "e": _section("-- exact ---", "-- sliding counter ---"),
    "c": _section("-- sliding counter ---", "-- GCRA ---"),
    "g": _section("-- GCRA ---", "-- the decision ---"),
}
_FUNCTIONS = {
    "e": ("exact", "exact_refund"),
    "c": ("counter", "counter_refund"),
    "g": ("gcra", "gcra_refund"),
}
_ACTIONS = ("hit", "peek", "refund")


def _single_policy_scripts(letter: str, constants: str) -> dict[str, Script]:
    """Return the scripts for a limiter with one policy, by action: its strategy's code only.

    The generic script parses each policy's description and builds the code of all three
    strategies on every call; these skip both, which cut the server's time per hit by about a
    quarter (median 33 us to 26 us, ``INFO commandstats``, interleaved on one server). The hit
    and peek scripts run the strategy's step as the script's own body, its parameters bound to
    the constants and the cost, instead of building it (and its refund) as functions on every
    call and the decision as a table: 1-2 us (5-14%) less server time per hit, every strategy,
    allowed and denied (``INFO commandstats``, interleaved rounds on one server).
    """
    step, refund = _FUNCTIONS[letter]
    code = _STRATEGY_CODE[letter]
    signature = f"local function {step}("
    start = code.index(signature)
    params_end = code.index(")\n", start)
    params = code[start + len(signature) : params_end]
    body = code[params_end + 2 : code.index("\nend\n", params_end) + 1]
    helpers = code[:start]

    def inline(units: str, commit: str) -> Script:
        bind = f"local {params} = KEYS[1], {constants}, {units}, {commit}\n"
        return Script(_PRELUDE + helpers + bind + body)

    return {
        "hit": inline("tonumber(ARGV[1])", "true"),
        "peek": inline("0", "false"),
        "refund": Script(
            _PRELUDE + code + f"return {refund}(KEYS[1], {constants}, tonumber(ARGV[1]))\n"
        ),
    }


_LETTERS = {
    RateLimitStrategy.EXACT: "e",
    RateLimitStrategy.SLIDING_COUNTER: "c",
    RateLimitStrategy.GCRA: "g",
}

_FALLBACKS: dict[str, str] = {
    "local": "limits each process on its own",
    "open": "admits every hit (fail open)",
    "closed": "refuses every hit (fail closed)",
}


class _Plan:
    """What the script needs to know about one limiter's policies, computed once."""

    __slots__ = (
        "args",
        "ids",
        "local_prefix",
        "policies",
        "registered",
        "scripts",
        "single",
        "suffix",
    )

    def __init__(self, policies: tuple[RateLimit, ...]) -> None:
        self.policies = policies
        self.single = len(policies) == 1
        #: Whether the store's registry of policy ids (which reset() reads) lists these yet.
        self.registered = False
        self.ids: list[str] = []
        self.args: list[Any] = []
        for p in policies:
            letter = _LETTERS[p.strategy]
            # The name too: two limiters with equal numbers but other names (login, search)
            # must not share a key's budget.
            ident = f"{letter}{p.limit}/{p.window!r}"
            if p.strategy is RateLimitStrategy.GCRA:
                ident += f"/{p.capacity}"
            ident += f"/{p.name}"
            self.ids.append(ident)
            ttl_ms = math.ceil(p.ttl * 1000) + 1000  # a second spare, for clock granularity
            self.args.append(f"{letter} {p.limit} {p.window!r} {p.capacity} {ttl_ms}")
        self.suffix = ":" + self.ids[0]
        self.local_prefix = "|".join(self.ids) + "\x1f"
        self.scripts = dict.fromkeys(_ACTIONS, _GENERIC)
        if self.single:
            p = policies[0]
            constants = f"{p.limit}, {p.window!r}, {p.capacity}, {ttl_ms}"
            self.scripts = _single_policy_scripts(letter, constants)
            self.args = []


class _Call:
    """One limiter operation on one store: its plan and script, and how to pack its command.

    ``head`` and ``tail`` are set when the store sends packed commands (one policy, a client
    :func:`sends_packed` accepts): the command is ``head``, the key's length, the store's
    prefix, the key, ``tail`` and the cost.
    """

    __slots__ = ("action", "fixed", "head", "plan", "script", "tail")

    def __init__(
        self, action: str, plan: _Plan, codec: tuple[str, str] | None, prefix: bytes
    ) -> None:
        self.action = action
        self.plan = plan
        self.script = plan.scripts[action]
        self.head: bytes | None = None
        self.tail = b""
        self.fixed = 0
        if codec is not None and plan.single:
            self.head = self.script.head(1, 1) + b"$"
            suffix = ("}" + plan.suffix).encode(*codec)
            self.tail = suffix + b"\r\n"
            self.fixed = len(prefix) + len(suffix)


def _packed_arg(value: int) -> bytes:
    text = b"%d" % value
    return b"$%d\r\n%b\r\n" % (len(text), text)


#: The cost argument as packed for the commonest costs: a peek's 0 and a hit's 1.
_COSTS = {0: _packed_arg(0), 1: _packed_arg(1)}


class RedisRateLimitStore:
    """A :class:`~commerce_kit.typing.RateLimitStore` on Redis, shared by every process using it.

    Pass it as ``store=`` to :class:`~commerce_kit.RateLimiter` (or ``RateLimiter.multi``): each
    hit, peek or refund is one ``EVALSHA`` of a script that decides for every policy at once,
    atomically, on the Redis server's clock. The limits hold across processes exactly as they
    hold within one: 4 processes hitting one key never admit more than the limit in total.

    Limiters on one store share a key's budget when their policies are equal (name, strategy,
    limit, window, burst), and only then; ``reset()`` forgets the key for all of them, as with
    one in-memory store.

    Keys are ``{prefix}rl:{<key>}:<policy>``: the braces are a Redis Cluster hash tag, so the
    states of every policy of one key live on one shard and one script can update them all. Each
    state expires once it no longer matters (a window after its last change, two for the sliding
    counter), so idle keys vanish on their own. ``{prefix}rl-policies`` lists the policies the
    fleet has used (one entry per policy, written once per process), so that a reset finds a
    key's states from any process.

    When Redis fails (see :class:`RedisGuard`), ``on_failure`` decides: ``"local"`` (the
    default) runs the same policies in this process's memory, so each process enforces the limit
    on its own; ``"open"`` admits every hit; ``"closed"`` refuses every hit, with the guard's
    ``reset_timeout`` as ``retry_after``. The limiter's caller never sees a Redis error.

    Args:
        client: A sync :class:`redis.Redis` client, for ``hit``, ``peek``, ``refund`` and
            ``reset``. For a limiter with one policy the store packs each command itself and
            sends it on a connection of the client's pool, under the connection's retry
            policy; redis-py's per-command layers (response callbacks, command metrics) do
            not see it.
        aclient: An asyncio :class:`redis.asyncio.Redis` client, for ``ahit`` and friends.
        prefix: Put in front of every key (no braces).
        on_failure: ``"local"``, ``"open"`` or ``"closed"``, as above.
        guard: The guard deciding when Redis is down; by default one of the store's own.
        maxsize: For the ``"local"`` fallback, the most keys held in memory.

    Raises:
        TypeError: Neither client was given, or ``prefix`` is not a ``str``.
        ValueError: ``prefix`` contains a brace or ``on_failure`` is unknown.

    Example:
        >>> import redis
        >>> from commerce_kit import RateLimiter
        >>> from commerce_kit.redis import RedisRateLimitStore
        >>> store = RedisRateLimitStore(redis.Redis(), prefix="doctest:")
        >>> limiter = RateLimiter(2, 60.0, strategy="gcra", store=store)
        >>> [limiter.hit("user:doc").allowed for _ in range(3)]
        [True, True, False]
        >>> limiter.reset("user:doc")

    .. versionadded:: 0.2.0
    """

    __slots__ = (
        "_aclient",
        "_attempt",
        "_by_op",
        "_client",
        "_codec",
        "_failure",
        "_guard",
        "_ids",
        "_local",
        "_maxsize",
        "_packed_prefix",
        "_plans",
        "_prefix",
        "_registry",
    )

    def __init__(
        self,
        client: redis.Redis | None = None,
        *,
        aclient: redis.asyncio.Redis | None = None,
        prefix: str = "commerce_kit:",
        on_failure: Literal["local", "open", "closed"] = "local",
        guard: RedisGuard | None = None,
        maxsize: int = 100_000,
    ) -> None:
        if client is None and aclient is None:
            raise TypeError("give a Redis client, an asyncio Redis client, or both")
        if on_failure not in _FALLBACKS:
            raise ValueError(f"on_failure must be 'local', 'open' or 'closed', got {on_failure!r}")
        self._client = client
        self._aclient = aclient
        self._prefix = check_prefix(prefix) + "rl:{"
        self._registry = prefix + "rl-policies"
        self._failure = on_failure
        self._guard = RedisGuard("redis") if guard is None else guard
        self._guard.describe("rate limiter", _FALLBACKS[on_failure])
        self._attempt = self._guard.attempt
        self._by_op: dict[Op, _Call] = {}
        # The sync client's one-policy calls go as commands packed here, on the pool's
        # connections: skipping redis-py's command layers took 15-20 us (12-21%) off a hit,
        # every strategy, allowed and denied (bench_redis's client, interleaved rounds).
        #: The client's encoding and its error handler, when the store packs its commands.
        self._codec: tuple[str, str] | None = None
        self._packed_prefix = b""
        if client is not None and sends_packed(client):
            encoder = client.get_encoder()
            self._codec = (encoder.encoding, encoder.encoding_errors)
            self._packed_prefix = self._prefix.encode(*self._codec)
        self._maxsize = maxsize
        self._local: MemoryRateLimitStore | None = None
        self._plans: dict[tuple[RateLimit, ...], _Plan] = {}
        # Every policy this store has decided for: delete() removes these states too, with
        # those the registry lists (other processes' policies).
        self._ids: dict[str, None] = {}

    def __repr__(self) -> str:
        return f"RedisRateLimitStore(prefix={self._prefix[: -len('rl:{')]!r})"

    @property
    def guard(self) -> RedisGuard:
        """The guard deciding when Redis is down."""
        return self._guard

    # -- the store protocol ----------------------------------------------------------------------

    def update(self, key: str, op: Op, now: float, cost: int, /) -> RateLimitDecision:
        """Run the limiter's operation for ``key`` as one script on Redis; return the decision.

        Args:
            key: The key, a ``str``.
            op: The limiter's operation; its description says which script step to run.
            now: The limiter's clock reading, used only by the local fallback.
            cost: Units to consume or give back.

        Returns:
            The decision.

        Raises:
            TypeError: The store has no sync client, ``key`` is not a ``str``, or ``op`` is not
                one of a :class:`~commerce_kit.RateLimiter`'s operations.
        """
        client = self._client
        if client is None:
            raise TypeError("this RedisRateLimitStore has no sync client; use the a-methods")
        call = self._call(key, op)
        plan = call.plan
        if not plan.registered:
            plan.registered = self._attempt(client.sadd, self._registry, *plan.ids) is not FAILED
        head = call.head
        if head is not None:
            encoded = key.encode(*self._codec)  # type: ignore[misc]  # set whenever head is
            command = b"%b%d\r\n%b%b%b%b" % (
                head,
                call.fixed + len(encoded),
                self._packed_prefix,
                encoded,
                call.tail,
                _COSTS.get(cost) or _packed_arg(cost),
            )
            reply = self._attempt(call.script.run_packed, client, command)
        else:
            keys, args = self._keys_and_args(key, call, cost)
            reply = self._attempt(call.script, client, keys, args)
        if reply is FAILED:
            return self._fallback(key, op, now, cost, plan)
        return _decide(plan, reply)

    async def aupdate(self, key: str, op: Op, now: float, cost: int, /) -> RateLimitDecision:
        """Async face of :meth:`update`, through the asyncio client.

        Args:
            key: The key, a ``str``.
            op: The limiter's operation.
            now: The limiter's clock reading, used only by the local fallback.
            cost: Units to consume or give back.

        Returns:
            The decision.

        Raises:
            TypeError: As for :meth:`update`, with the asyncio client.
        """
        client = self._aclient
        if client is None:
            raise TypeError("this RedisRateLimitStore has no asyncio client; use the sync methods")
        call = self._call(key, op)
        plan = call.plan
        keys, args = self._keys_and_args(key, call, cost)
        if not plan.registered:
            registry = self._registry

            async def register() -> bool:
                await client.sadd(registry, *plan.ids)
                return True

            async def unregistered() -> bool:
                return False

            plan.registered = await self._guard.arun(register, unregistered)

        async def command() -> bytes | Failed:
            return await call.script.arun(client, keys, args)  # type: ignore[no-any-return]

        async def fallback() -> bytes | Failed:
            return FAILED

        reply = await self._guard.arun(command, fallback)
        if reply is FAILED:
            return self._fallback(key, op, now, cost, plan)
        return _decide(plan, reply)

    def delete(self, key: str, /) -> None:
        """Forget ``key`` under every policy it has a state for.

        While Redis is down (see :class:`RedisGuard`) only the local fallback's state is
        forgotten: the shared one stays until it expires.

        Args:
            key: The key.

        Raises:
            TypeError: The store has no sync client.
        """
        client = self._client
        if client is None:
            raise TypeError("this RedisRateLimitStore has no sync client")
        self._forget_locally(key)
        registry = self._registry

        def command() -> None:
            client.delete(*self._keys(key, client.smembers(registry)))

        self._guard.run(command, lambda: None)

    async def adelete(self, key: str, /) -> None:
        """Async face of :meth:`delete`.

        Args:
            key: The key.

        Raises:
            TypeError: The store has no asyncio client.
        """
        client = self._aclient
        if client is None:
            raise TypeError("this RedisRateLimitStore has no asyncio client")
        self._forget_locally(key)
        registry = self._registry

        async def command() -> None:
            await client.delete(*self._keys(key, await client.smembers(registry)))

        async def nothing() -> None:
            return None

        await self._guard.arun(command, nothing)

    # -- helpers ---------------------------------------------------------------------------------

    def _forget_locally(self, key: str) -> None:
        local = self._local
        if local is not None:
            for plan in self._plans.values():
                local.delete(plan.local_prefix + key)

    def _keys(self, key: str, listed: set[bytes | str]) -> list[str]:
        head = self._prefix + key + "}"
        idents = dict.fromkeys(self._ids)
        idents.update(dict.fromkeys(i.decode() if isinstance(i, bytes) else i for i in listed))
        return [head + ":" + ident for ident in idents]

    def _call(self, key: str, op: Op) -> _Call:
        if not isinstance(key, str):
            raise TypeError(f"rate limit keys must be str, got {type(key).__name__}")
        try:
            return self._by_op[op]
        except KeyError:
            return self._learn(op)

    def _keys_and_args(self, key: str, call: _Call, cost: int) -> tuple[list[str], list[Any]]:
        plan = call.plan
        head = self._prefix + key + "}"
        if plan.single:
            return [head + plan.suffix], [cost]
        return [head + ":" + ident for ident in plan.ids], [call.action, cost, *plan.args]

    def _learn(self, op: Op) -> _Call:
        described = describe_op(op)
        if described is None:
            raise TypeError(
                f"RedisRateLimitStore runs a RateLimiter's own operations only, got {op!r}"
            )
        action, policies = described
        plan = self._plans.get(policies)
        if plan is None:
            plan = self._plans[policies] = _Plan(policies)
            for ident in plan.ids:
                self._ids[ident] = None
        if len(self._by_op) >= 4096:  # limiters built per request must not pile up here
            self._by_op.clear()
        call = self._by_op[op] = _Call(action, plan, self._codec, self._packed_prefix)
        return call

    def _fallback(self, key: str, op: Op, now: float, cost: int, plan: _Plan) -> RateLimitDecision:
        failure = self._failure
        if failure == "local":
            local = self._local
            if local is None:
                # Long enough for every policy seen so far; a longer ttl only keeps states longer.
                ttl = max(p.ttl for known in self._plans.values() for p in known.policies)
                local = self._local = MemoryRateLimitStore(ttl=ttl, maxsize=self._maxsize)
            # Limiters with other policies keep other states for the same key: keep them apart.
            return local.update(plan.local_prefix + key, op, now, cost)
        policy = plan.policies[0]
        if failure == "open":
            return RateLimitDecision(
                allowed=True,
                remaining=float(policy.capacity),
                retry_after=0.0,
                reset_after=0.0,
                policy=policy,
            )
        retry = self._guard.reset_timeout
        return RateLimitDecision(
            allowed=False, remaining=0.0, retry_after=retry, reset_after=retry, policy=policy
        )


#: One policy's part of the script's reply: allowed, remaining, retry_after, reset_after.
_FIELDS = struct.Struct("<Bddd")
_unpack = _FIELDS.unpack
#: Builds a decision with ``tuple``'s C constructor, skipping the NamedTuple's Python ``__new__``,
#: as the in-memory strategies do; it saves about a microsecond of the Python work per decision.
_new: Callable[[type[RateLimitDecision], tuple[Any, ...]], RateLimitDecision] = tuple.__new__


def _decide(plan: _Plan, reply: bytes) -> RateLimitDecision:
    policies = plan.policies
    if plan.single:
        allowed, remaining, retry, reset = _unpack(reply)
        return _new(RateLimitDecision, (allowed == 1, remaining, retry, reset, policies[0], None))
    parts = tuple(
        _new(RateLimitDecision, (fields[0] == 1, fields[1], fields[2], fields[3], p, None))
        for fields, p in zip(_FIELDS.iter_unpack(reply), policies, strict=True)
    )
    refused = [d for d in parts if not d[0]]
    if refused:
        worst = max(refused, key=lambda d: d[2])
        return RateLimitDecision(
            allowed=False,
            remaining=worst[1],
            retry_after=worst[2],
            reset_after=worst[3],
            policy=worst[4],
            parts=parts,
        )
    tightest = min(parts, key=lambda d: d[1])
    return RateLimitDecision(
        allowed=True,
        remaining=tightest[1],
        retry_after=0.0,
        reset_after=tightest[3],
        policy=tightest[4],
        parts=parts,
    )
