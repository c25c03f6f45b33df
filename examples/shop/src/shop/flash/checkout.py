"""The checkout flow: reserve stock atomically, charge, then mark paid or give the stock back.

Each step is its own short transaction, and no transaction is open while the payment provider
is called:

1. **reserve** (one transaction): ``UPDATE products SET stock = stock - :q WHERE sku = :s AND
   stock >= :q`` (a conditional decrement in one statement, never read-then-write, so two buyers
   can never both take the last unit) and ``INSERT`` the order as ``reserved`` with an expiry;
2. **charge** through :class:`~commerce_kit.payments.PaymentGateway` (timeout, retries, breaker),
   with the order id as the provider's idempotency key;
3. **settle** (one transaction): mark the order ``paid``, or, when the payment failed, mark it
   ``failed`` and put the quantity back.

A process that dies between 1 and 3 leaves a ``reserved`` order; :meth:`Checkout.sweep` marks
reservations past their expiry ``expired`` and returns their stock. Lock conflicts (SQLite busy,
PostgreSQL serialization failures and deadlocks) are retried with the library's
:func:`~commerce_kit.retrying` and counted.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from commerce_kit import (
    CircuitOpenError,
    CircuitState,
    CommerceKitError,
    OutOfStockError,
    PaymentError,
    TTLCache,
    retrying,
)
from commerce_kit.payments import PaymentRequest
from sqlalchemy import BigInteger, Integer, String, insert, literal, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shop.db import now_ms, orders, products
from shop.money import from_cents
from shop.observability import Metrics
from shop.payments import Payments
from shop.problems import ProblemError, problem

__all__ = ["Checkout", "CheckoutRequest", "OrderView", "is_lock_conflict"]

LOG = logging.getLogger("shop.checkout")
T = TypeVar("T")

_OPEN = (CircuitState.OPEN, CircuitState.FORCED_OPEN)


@dataclass(frozen=True, slots=True)
class CheckoutRequest:
    """A validated checkout body."""

    sku: str
    quantity: int
    payment_method: str

    def fingerprint(self) -> str:
        """Return a hash of the body, to tell a retry from a different request with one key."""
        canonical = json.dumps(
            [self.sku, self.quantity, self.payment_method], separators=(",", ":")
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class OrderView:
    """An order as the API shows it."""

    order_id: str
    status: str
    sku: str
    quantity: int
    amount: str
    currency: str

    def as_dict(self) -> dict[str, object]:
        """The JSON body."""
        return {
            "order_id": self.order_id,
            "status": self.status,
            "sku": self.sku,
            "quantity": self.quantity,
            "amount": self.amount,
            "currency": self.currency,
        }


def is_lock_conflict(error: BaseException) -> bool:
    """Whether ``error`` is a lock conflict that a retry of the transaction can resolve."""
    if not isinstance(error, DBAPIError) or isinstance(error, IntegrityError):
        return False
    original = error.orig
    if getattr(original, "sqlstate", None) in {"40001", "40P01"}:
        return True
    text = str(original).lower()
    return "database is locked" in text or "database is busy" in text


def _view(row: object) -> OrderView:
    return OrderView(
        order_id=row.id,  # type: ignore[attr-defined]
        status=row.status,  # type: ignore[attr-defined]
        sku=row.sku,  # type: ignore[attr-defined]
        quantity=row.quantity,  # type: ignore[attr-defined]
        amount=str(from_cents(row.amount_cents)),  # type: ignore[attr-defined]
        currency=row.currency,  # type: ignore[attr-defined]
    )


def _payment_error(code: str) -> type[PaymentError]:
    """Return the payment error class whose ``code`` is ``code`` (PaymentError if none)."""
    pending: list[type[PaymentError]] = [PaymentError]
    while pending:
        kind = pending.pop()
        if kind.code == code:
            return kind
        pending.extend(kind.__subclasses__())
    return PaymentError


class Checkout:
    """The flash-sale checkout and the sweep of abandoned reservations."""

    def __init__(
        self,
        engine: AsyncEngine,
        payments: Payments,
        metrics: Metrics,
        *,
        reservation_ttl: float,
    ) -> None:
        self._engine = engine
        # Write transactions take SQLite's write lock at BEGIN (see shop.db).
        self._writer = engine.execution_options(write=True)
        # SQLite has one writer at a time. Queueing this process's writers here is far cheaper
        # than letting them poll SQLite's busy handler, whose sleeps grow to 100 ms under
        # contention; other processes still meet busy_timeout, and their conflicts are retried.
        self._write_lock = asyncio.Lock() if engine.dialect.name == "sqlite" else None
        self._autocommit = (
            engine.execution_options(isolation_level="AUTOCOMMIT")
            if engine.dialect.name == "postgresql"
            else None
        )
        # SKUs whose reservation failed for want of stock in the last second.
        self._short: TTLCache[str, bool] = TTLCache(ttl=1.0, maxsize=10_000)
        self._payments = payments
        self._metrics = metrics
        self._ttl_ms = int(reservation_ttl * 1000)

    # -- transactions ----------------------------------------------------------------------------
    def _conflict(self, error: BaseException) -> bool:
        if is_lock_conflict(error):
            self._metrics.lock_conflicts.inc()
            LOG.info("lock conflict, transaction retried: %s", type(error).__name__)
            return True
        return False

    async def _write(
        self, work: Callable[[AsyncConnection], Awaitable[T]], *, one_statement: bool = False
    ) -> T:
        """Run ``work`` in one write transaction, retrying it on lock conflicts.

        With ``one_statement`` on PostgreSQL, ``work`` runs a single statement in autocommit
        mode: the statement is its own transaction, which spares the BEGIN and COMMIT round trips.
        """
        async for attempt in retrying(
            on=self._conflict, attempts=8, wait_initial=0.005, wait_max=0.25
        ):
            with attempt:
                if one_statement and self._autocommit is not None:
                    async with self._autocommit.connect() as conn:
                        return await work(conn)
                if self._write_lock is None:
                    async with self._writer.begin() as conn:
                        return await work(conn)
                async with self._write_lock, self._writer.begin() as conn:
                    return await work(conn)
        raise AssertionError("unreachable: retrying re-raises the last error")  # pragma: no cover

    # -- the flow --------------------------------------------------------------------------------
    async def checkout(
        self, user_id: int, request: CheckoutRequest, *, idempotency_key: str | None
    ) -> OrderView:
        """Reserve, charge and settle one checkout; replay it for a known idempotency key.

        Raises:
            ProblemError: Unknown product or payment method (422), the key reused with another
                body (422), or the same key still in progress (409).
            OutOfStockError: Not enough stock (nothing was reserved).
            CircuitOpenError: The payment method is failing fast (nothing was reserved).
            PaymentError: The payment failed; the reservation was released.
        """
        fingerprint = request.fingerprint()
        if idempotency_key is not None:
            existing = await self._find(user_id, idempotency_key)
            if existing is not None:
                return self._replay(existing, fingerprint)
        if request.payment_method not in self._payments.methods:
            raise ProblemError(
                problem(
                    422,
                    "unknown_payment_method",
                    "Unprocessable Content",
                    "This payment method is not offered. Please choose another one.",
                )
            )
        gateway = self._payments.gateway
        snapshot = gateway.breaker(request.payment_method).snapshot()
        if snapshot.state in _OPEN and snapshot.retry_after > 0:
            # Fail fast before touching stock: the method is known to be down.
            raise CircuitOpenError(
                f"payment method {request.payment_method!r} is failing fast",
                name=request.payment_method,
                retry_after=snapshot.retry_after,
            )

        if self._short.get(request.sku):
            # The item ran short a moment ago: a cheap read answers most such attempts without a
            # write lock. It decides nothing about selling; the conditional decrement does.
            async with self._engine.connect() as conn:
                stock = await conn.scalar(
                    select(products.c.stock).where(products.c.sku == request.sku)
                )
            if stock is not None and stock < request.quantity:
                self._metrics.checkouts.labels("out_of_stock").inc()
                raise OutOfStockError(f"not enough stock of {request.sku!r}", item=request.sku)

        order_id = "ord_" + secrets.token_hex(12)
        try:
            if self._autocommit is not None:
                amount_cents, currency = await self._write(
                    lambda conn: self._reserve_in_one_statement(
                        conn, order_id, user_id, request, idempotency_key
                    ),
                    one_statement=True,
                )
            else:
                amount_cents, currency = await self._write(
                    lambda conn: self._reserve(conn, order_id, user_id, request, idempotency_key)
                )
        except IntegrityError:
            # The same idempotency key raced us; the first one holds the order.
            if idempotency_key is None:
                raise
            existing = await self._find(user_id, idempotency_key)
            if existing is None:
                raise
            return self._replay(existing, fingerprint)

        payment = PaymentRequest(
            amount=from_cents(amount_cents),
            currency=currency,
            order_id=order_id,
            customer=str(user_id),
            # Every attempt, and any later retry of this order, charges under this one key.
            idempotency_key=order_id,
        )
        try:
            result = await gateway.acharge(request.payment_method, payment)
        except Exception as error:
            # Remember which failure it was, so a retry with the same key answers the same.
            code = error.code if isinstance(error, CommerceKitError) else PaymentError.code
            await self._release(order_id, request, code)
            if isinstance(error, (CircuitOpenError, PaymentError)):
                raise
            raise PaymentError(
                f"payment via {request.payment_method!r} failed: {type(error).__name__}",
                method=request.payment_method,
            ) from error

        paid = await self._write(
            lambda conn: self._mark_paid(conn, order_id, result.payment_id), one_statement=True
        )
        if not paid:
            # The reservation expired while the provider answered (far past the deadline):
            # its stock is back on sale, so give the money back rather than oversell.
            await gateway.arefund(
                request.payment_method,
                result.payment_id,
                result.amount,
                idempotency_key=f"refund-{order_id}",
            )
            raise OutOfStockError(
                f"reservation {order_id} expired before payment", item=request.sku
            )
        self._metrics.checkouts.labels("paid").inc()
        return OrderView(
            order_id=order_id,
            status="paid",
            sku=request.sku,
            quantity=request.quantity,
            amount=str(from_cents(amount_cents)),
            currency=currency,
        )

    async def _reserve(
        self,
        conn: AsyncConnection,
        order_id: str,
        user_id: int,
        request: CheckoutRequest,
        idempotency_key: str | None,
    ) -> tuple[int, str]:
        # The order row goes in first and the conditional decrement last, so the product's row
        # lock (what every buyer of a hot item queues on) is held only from the decrement to the
        # commit. Prices do not change during a sale, so reading the price first is safe.
        priced = await conn.execute(
            select(products.c.price_cents, products.c.currency).where(products.c.sku == request.sku)
        )
        row = priced.first()
        if row is None:
            raise ProblemError(
                problem(
                    422,
                    "unknown_product",
                    "Unprocessable Content",
                    "This product does not exist.",
                )
            )
        price_cents, currency = int(row.price_cents), str(row.currency)
        now = now_ms()
        await conn.execute(
            insert(orders).values(
                id=order_id,
                user_id=user_id,
                sku=request.sku,
                quantity=request.quantity,
                amount_cents=price_cents * request.quantity,
                currency=currency,
                payment_method=request.payment_method,
                status="reserved",
                idempotency_key=idempotency_key,
                request_hash=request.fingerprint(),
                created_at=now,
                expires_at=now + self._ttl_ms,
            )
        )
        reserved = await conn.execute(
            update(products)
            .where(products.c.sku == request.sku, products.c.stock >= request.quantity)
            .values(stock=products.c.stock - request.quantity)
        )
        if reserved.rowcount != 1:
            # Raising rolls the order row back with the transaction.
            self._short.set(request.sku, value=True)
            self._metrics.checkouts.labels("out_of_stock").inc()
            raise OutOfStockError(f"not enough stock of {request.sku!r}", item=request.sku)
        return price_cents * request.quantity, currency

    async def _reserve_in_one_statement(
        self,
        conn: AsyncConnection,
        order_id: str,
        user_id: int,
        request: CheckoutRequest,
        idempotency_key: str | None,
    ) -> tuple[int, str]:
        """PostgreSQL: the decrement and the order row in one statement (its own transaction).

        ``WITH taken AS (UPDATE products ... WHERE stock >= :q RETURNING price_cents, currency)
        INSERT INTO orders ... SELECT ... FROM taken``: the order exists exactly when the stock
        was taken, and the product's row lock is held for one statement only.
        """
        quantity = request.quantity
        taken = (
            update(products)
            .where(products.c.sku == request.sku, products.c.stock >= quantity)
            .values(stock=products.c.stock - quantity)
            .returning(products.c.price_cents, products.c.currency)
            .cte("taken")
        )
        now = now_ms()
        columns = (
            "id",
            "user_id",
            "sku",
            "quantity",
            "amount_cents",
            "currency",
            "payment_method",
            "status",
            "idempotency_key",
            "request_hash",
            "created_at",
            "expires_at",
        )
        rows = select(
            literal(order_id, String),
            literal(user_id, Integer),
            literal(request.sku, String),
            literal(quantity, Integer),
            taken.c.price_cents * quantity,
            taken.c.currency,
            literal(request.payment_method, String),
            literal("reserved", String),
            literal(idempotency_key, String),
            literal(request.fingerprint(), String),
            literal(now, BigInteger),
            literal(now + self._ttl_ms, BigInteger),
        )
        statement = (
            insert(orders)
            .from_select(columns, rows)
            .returning(orders.c.amount_cents, orders.c.currency)
        )
        row = (await conn.execute(statement)).first()
        if row is not None:
            return int(row.amount_cents), str(row.currency)
        known = await conn.scalar(select(products.c.sku).where(products.c.sku == request.sku))
        if known is None:
            raise ProblemError(
                problem(
                    422, "unknown_product", "Unprocessable Content", "This product does not exist."
                )
            )
        self._short.set(request.sku, value=True)
        self._metrics.checkouts.labels("out_of_stock").inc()
        raise OutOfStockError(f"not enough stock of {request.sku!r}", item=request.sku)

    @staticmethod
    async def _mark_paid(conn: AsyncConnection, order_id: str, payment_id: str) -> bool:
        result = await conn.execute(
            update(orders)
            .where(orders.c.id == order_id, orders.c.status == "reserved")
            .values(status="paid", payment_id=payment_id)
        )
        return result.rowcount == 1

    async def _release(self, order_id: str, request: CheckoutRequest, code: str) -> None:
        """Mark the order failed and give its quantity back, in one transaction."""

        async def work(conn: AsyncConnection) -> None:
            result = await conn.execute(
                update(orders)
                .where(orders.c.id == order_id, orders.c.status == "reserved")
                .values(status="failed", failure_code=code)
            )
            if result.rowcount == 1:
                await conn.execute(
                    update(products)
                    .where(products.c.sku == request.sku)
                    .values(stock=products.c.stock + request.quantity)
                )

        try:
            await self._write(work)
        except Exception:
            # The sweep returns the stock when the reservation expires.
            LOG.exception("could not release reservation %s; the sweep will", order_id)
        self._metrics.checkouts.labels(code).inc()

    # -- idempotency -----------------------------------------------------------------------------
    async def _find(self, user_id: int, key: str) -> object | None:
        async with self._engine.connect() as conn:
            result = await conn.execute(
                select(orders).where(orders.c.user_id == user_id, orders.c.idempotency_key == key)
            )
            return result.first()

    def _replay(self, row: object, fingerprint: str) -> OrderView:
        if row.request_hash != fingerprint:  # type: ignore[attr-defined]
            raise ProblemError(
                problem(
                    422,
                    "idempotency_key_reused",
                    "Unprocessable Content",
                    "This Idempotency-Key was already used for a different checkout. "
                    "Use a new key for a new checkout.",
                )
            )
        status = row.status  # type: ignore[attr-defined]
        if status == "paid":
            return _view(row)
        if status == "reserved":
            raise ProblemError(
                problem(
                    409,
                    "checkout_in_progress",
                    "Conflict",
                    "This checkout is still being processed. Please try again shortly.",
                    retry_after=1,
                )
            )
        if status == "expired":
            raise OutOfStockError("the reservation of this checkout expired", item=None)
        code = row.failure_code  # type: ignore[attr-defined]
        replayed = "replayed: the payment of this checkout failed"
        if code == CircuitOpenError.code:
            raise CircuitOpenError(replayed, name="", retry_after=1)
        raise _payment_error(code)(replayed)

    # -- orders ----------------------------------------------------------------------------------
    async def order(self, user_id: int, order_id: str) -> OrderView | None:
        """Return ``order_id`` if it belongs to ``user_id``, else None."""
        async with self._engine.connect() as conn:
            result = await conn.execute(
                select(orders).where(orders.c.id == order_id, orders.c.user_id == user_id)
            )
            row = result.first()
        return None if row is None else _view(row)

    # -- crash recovery --------------------------------------------------------------------------
    async def sweep(self, *, now: int | None = None, limit: int = 500) -> int:
        """Expire reservations past their time and return their stock; return how many."""
        cutoff = now_ms() if now is None else now
        async with self._engine.connect() as conn:
            result = await conn.execute(
                select(orders.c.id, orders.c.sku, orders.c.quantity)
                .where(orders.c.status == "reserved", orders.c.expires_at < cutoff)
                .limit(limit)
            )
            stale = result.all()
        expired = 0
        for row in stale:

            async def work(conn: AsyncConnection, row: object = row) -> bool:
                done = await conn.execute(
                    update(orders)
                    .where(orders.c.id == row.id, orders.c.status == "reserved")  # type: ignore[attr-defined]
                    .values(status="expired")
                )
                if done.rowcount != 1:
                    return False
                await conn.execute(
                    update(products)
                    .where(products.c.sku == row.sku)  # type: ignore[attr-defined]
                    .values(stock=products.c.stock + row.quantity)  # type: ignore[attr-defined]
                )
                return True

            if await self._write(work):
                expired += 1
        if expired:
            self._metrics.expired_reservations.inc(expired)
            LOG.warning("returned %d expired reservation(s) to stock", expired)
        return expired
