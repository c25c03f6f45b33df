"""Where a circuit breaker keeps its record: the storage protocol and the in-memory store.

A store hands out one *cell* per breaker name. The breaker reads the cell's current
:class:`BreakerRecord` on every call and replaces it with :meth:`BreakerCell.compare_and_set`,
retrying when another caller changed it first. That is all a store must offer, so a shared store
(Redis, a database row) implements two operations and the algorithm stays in one place.
"""

from __future__ import annotations

import threading
import weakref
from typing import Protocol

from commerce_kit.resilience._circuit_breaker_machine import IDLE, BreakerRecord


class BreakerCell(Protocol):
    """The slot holding one breaker's record.

    .. versionadded:: 0.1.0
    """

    @property
    def record(self) -> BreakerRecord:
        """The current record. Read on every call, so it should be cheap."""
        ...

    def compare_and_set(self, expected: BreakerRecord, new: BreakerRecord) -> bool:
        """Replace the record with ``new`` if it is still ``expected``.

        Args:
            expected: The record the caller read and decided from.
            new: The record to store.

        Returns:
            Whether the record was replaced; ``False`` means another caller changed it first, and
            the breaker decides again from the fresh record.
        """
        ...


class BreakerStore(Protocol):
    """Keeps circuit breaker records by name, so breakers with the same name share one state.

    .. versionadded:: 0.1.0
    """

    def cell(self, name: str) -> BreakerCell:
        """Return the cell for ``name``, creating a closed one if there is none.

        Args:
            name: The breaker's name.

        Returns:
            The cell; every breaker with this name on this store gets the same state.
        """
        ...


class MemoryBreakerCell:
    """A record in process memory, swapped under a lock.

    Reading :attr:`record` takes no lock: an attribute read is atomic, and the record it returns
    is immutable.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("__weakref__", "_lock", "record")

    def __init__(self) -> None:
        #: The current record.
        self.record: BreakerRecord = IDLE
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MemoryBreakerCell({self.record!r})"

    def compare_and_set(self, expected: BreakerRecord, new: BreakerRecord) -> bool:
        """Replace the record with ``new`` if it is still the very object ``expected``.

        Args:
            expected: The record the caller read.
            new: The record to store.

        Returns:
            Whether the record was replaced.
        """
        with self._lock:
            if self.record is not expected:
                return False
            self.record = new
            return True


class MemoryBreakerStore:
    """Keeps breaker records in process memory; the default store.

    Each :class:`CircuitBreaker` built without ``store=`` gets a store of its own. Pass one store to
    several breakers to let those with the same name share their state. A cell lives as long as a
    breaker holds it, so breakers that a registry drops take their records with them.

    Example:
        >>> from commerce_kit.resilience import MemoryBreakerStore
        >>> store = MemoryBreakerStore()
        >>> store.cell("paypal") is store.cell("paypal")
        True

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_cells", "_lock")

    def __init__(self) -> None:
        self._cells: weakref.WeakValueDictionary[str, MemoryBreakerCell] = (
            weakref.WeakValueDictionary()
        )
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._cells)

    def cell(self, name: str) -> MemoryBreakerCell:
        """Return the cell for ``name``, creating a closed one if there is none.

        Args:
            name: The breaker's name.

        Returns:
            The cell shared by every breaker with this name on this store.
        """
        with self._lock:
            cell = self._cells.get(name)
            if cell is None:
                cell = self._cells[name] = MemoryBreakerCell()
            return cell
