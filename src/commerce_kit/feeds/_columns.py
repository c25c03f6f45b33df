"""Column mapping: a shop's export columns become commerce_kit's product fields.

Partners send what their shop already exports, so a Shopify, WooCommerce or Magento product CSV
must validate without being reworked by hand. A :class:`FieldMap` names, for each source column,
the product field it feeds; the built-in presets in :data:`FIELD_MAPS` also know their
platform's row conventions (variant rows continuing a product, parent rows that are not products
themselves). ``Mapper`` applies a map to the records an adapter yields, one record at a time,
so a feed of any size is mapped in constant memory.

Each record is mapped in three steps:

1. **Skip** rows that are not products (a WooCommerce variable parent, a Shopify image row): the
   map's ``skip`` rule names why, and the row is reported, not yielded. A row the adapter could
   not read whole (its :attr:`~FeedRecord.error` is set) is never skipped.
2. **Inherit**: consecutive rows sharing the ``group_by`` column continue the product of the
   group's first row, and take its ``inherit`` columns (the product's own: title,
   description, main image) from it.
3. **Rename**: every product field takes the first non-blank of its source columns, in the
   order the map lists them (a comma-separated ``list_columns`` value gives its first item);
   the other columns are kept under their own names, unless the name is a product field the map
   fills (the map decides what ``price`` is).

Column names are matched ignoring case and runs of spaces, so ``"Regular Price"`` finds
``"Regular price"``. How the columns line up is worked out once per shape of record (once per
feed for CSV) and cached.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from commerce_kit._errors import FeedFormatError
from commerce_kit.feeds._record import FeedRecord, new, set_data, set_error, set_index, set_line

__all__ = [
    "FIELD_MAPS",
    "MAGENTO",
    "SHOPIFY",
    "WOOCOMMERCE",
    "FieldMap",
    "Mapper",
    "detect_field_map",
    "resolve_columns",
]


# Shapes of record remembered per feed: CSV has one, JSON and XML records a few at most.
_MAX_PLANS = 64


def column_key(name: str) -> str:
    """Return the form column names are compared in: case folded, runs of spaces made one."""
    return " ".join(name.split()).casefold()


def _is_blank(value: object) -> bool:
    return value is None or (type(value) is str and (not value or value.isspace()))


def _first_item(value: object) -> object:
    """The first non-blank item of a comma-separated list (WooCommerce ``Images``)."""
    if type(value) is not str or "," not in value:
        return value
    for item in value.split(","):
        if item.strip():
            return item.strip()
    return ""


@dataclass(frozen=True, slots=True)
class FieldMap:
    """How the columns of a shop's export become the product fields the validator knows.

    Pass one to :func:`~commerce_kit.feeds.parse_feed` as ``columns=``, or pass a plain
    ``{source column: product field}`` mapping, a preset's name (``"shopify"``,
    ``"woocommerce"``, ``"magento"``) or ``"auto"``. Column names are matched ignoring case and
    runs of spaces.

    Attributes:
        columns: Source column to product field, such as ``{"Artikelnummer": "sku"}``. Several
            columns may feed one field: the first non-blank one, in this order, wins (a
            description from ``"Description"``, else ``"Short description"``). Columns not
            named here are kept under their own names, unless the name is a field this map
            fills.
        name: What the map is called in reports (``"shopify"``, or ``"custom"``).
        signatures: Sets of column names that identify the export, for ``columns="auto"``: the
            map is chosen when every column of one set is in the feed.
        list_columns: Source columns holding a comma-separated list, of which the first item is
            taken (WooCommerce ``Images``).
        group_by: A column whose value, repeated on consecutive rows, makes them one product
            (Shopify's ``Handle``): the rows after the group's first are its variants, and take
            the ``inherit`` columns from it.
        inherit: The source columns that belong to the product rather than the variant, which
            a continuation row takes from its group's first row (Shopify's ``Title``, or
            ``Image Src``, whose value on a later row is the product's next image).
        skip: A rule naming rows that are not products: called with a function returning a
            source column's value (``""`` when absent or blank), it returns the reason to skip
            the row, or ``None`` to keep it. Skipped rows are reported, not yielded.

    ``signatures``, ``list_columns`` and ``inherit`` are kept in the form column names are
    compared in (case folded, runs of spaces made one), and ``columns`` as a read-only copy.

    Raises:
        ValueError: ``columns`` is empty, names a field with an empty string, or names one
            column twice (ignoring case and spaces).
        TypeError: A column or field name is not a ``str``.

    .. versionadded:: 0.1.0
    """

    columns: Mapping[str, str] = field(hash=False)
    name: str = "custom"
    signatures: tuple[frozenset[str], ...] = ()
    list_columns: frozenset[str] = frozenset()
    group_by: str | None = None
    inherit: frozenset[str] = frozenset()
    skip: Callable[[Callable[[str], str]], str | None] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.columns, Mapping):
            raise TypeError(
                f"columns must be a mapping of source column to product field, "
                f"got {type(self.columns).__name__}"
            )
        if not self.columns:
            raise ValueError("columns must map at least one source column to a product field")
        seen: dict[str, str] = {}
        pairs: Iterable[tuple[object, object]] = self.columns.items()  # checked, not trusted
        for source, target in pairs:
            if not isinstance(source, str) or not isinstance(target, str):
                raise TypeError(f"columns must map str to str, got {source!r}: {target!r}")
            if not source.strip() or not target.strip():
                raise ValueError(
                    f"column and field names must not be blank: {source!r}: {target!r}"
                )
            key = column_key(source)
            if key in seen:
                raise ValueError(
                    f"columns names {seen[key]!r} and {source!r}, the same column "
                    "(names are compared ignoring case and spaces)"
                )
            seen[key] = source
        name: object = self.name
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty str, got {name!r}")
        object.__setattr__(self, "columns", MappingProxyType(dict(self.columns)))
        object.__setattr__(
            self, "signatures", tuple(frozenset(map(column_key, s)) for s in self.signatures)
        )
        object.__setattr__(self, "list_columns", frozenset(map(column_key, self.list_columns)))
        object.__setattr__(self, "inherit", frozenset(map(column_key, self.inherit)))


class _Plan:
    """How one shape of record (its keys, in order) lines up with a field map."""

    __slots__ = ("cells", "copied", "fields", "group", "inherit", "lists", "lookup", "matched")

    def __init__(self, keys: tuple[str, ...], field_map: FieldMap) -> None:
        lookup: dict[str, str] = {}
        for key in keys:
            lookup.setdefault(column_key(key), key)
        sources: dict[str, list[str]] = {}
        used: set[str] = set()
        for source, target in field_map.columns.items():
            actual = lookup.get(column_key(source))
            sources.setdefault(target, [])
            if actual is not None:
                sources[target].append(actual)
                used.add(actual)
        #: The product fields and, for each, the record's keys to take it from, in order.
        self.fields = tuple((target, tuple(keys)) for target, keys in sources.items() if keys)
        #: The record's keys copied under their own names.
        self.copied = tuple(key for key in keys if key not in used and key not in sources)
        self.lists = frozenset(lookup[name] for name in field_map.list_columns if name in lookup)
        self.inherit = tuple(lookup[name] for name in field_map.inherit if name in lookup)
        group = field_map.group_by
        self.group = None if group is None else lookup.get(column_key(group))
        self.lookup = lookup
        #: The record's key for each column name a skip rule asked about (None: absent).
        self.cells: dict[str, str | None] = {}
        self.matched = bool(used)

    def key_of(self, column: str) -> str | None:
        """The record's key for a column name, matched ignoring case and spaces."""
        try:
            return self.cells[column]
        except KeyError:
            key = self.cells[column] = self.lookup.get(column_key(column))
            return key


def detect_field_map(
    columns: Iterable[str], candidates: Iterable[FieldMap] | None = None
) -> FieldMap | None:
    """Return the field map whose signature the columns hold, if exactly one does.

    Args:
        columns: A feed's column names (a CSV header, the keys of a JSON record).
        candidates: The maps to try; the presets of :data:`FIELD_MAPS` by default.

    Returns:
        The one map with a signature whose every column is among ``columns`` (ignoring case
        and spaces); ``None`` when no map matches, or when several do (the columns are then
        left as they are rather than guessed).

    .. versionadded:: 0.1.0
    """
    names = {column_key(name) for name in columns}
    found = [
        field_map
        for field_map in (FIELD_MAPS.values() if candidates is None else candidates)
        if any(signature <= names for signature in field_map.signatures)
    ]
    return found[0] if len(found) == 1 else None


def resolve_columns(
    columns: FieldMap | Mapping[str, str] | str | None,
) -> FieldMap | Literal["auto"] | None:
    """Turn ``parse_feed``'s ``columns=`` argument into a field map, ``"auto"`` or ``None``.

    Raises:
        ValueError: A name that is neither ``"auto"`` nor a preset.
        TypeError: Anything but a field map, a mapping, a str or ``None``.
    """
    if columns is None or isinstance(columns, FieldMap):
        return columns
    if isinstance(columns, str):
        if columns == "auto":
            return "auto"
        preset = FIELD_MAPS.get(columns.lower())
        if preset is None:
            raise ValueError(
                f"no column preset is named {columns!r}; use one of "
                f"{', '.join(repr(name) for name in FIELD_MAPS)}, 'auto', a FieldMap, or a "
                "mapping of source column to product field"
            )
        return preset
    if isinstance(columns, Mapping):
        return FieldMap(columns)
    raise TypeError(
        "columns must be a FieldMap, a mapping of source column to product field, a preset "
        f"name or 'auto', got {type(columns).__name__}"
    )


class Mapper:
    """Applies a field map to an adapter's records; counts and reports the rows it skips.

    Args:
        records: The records as the adapter yields them.
        field_map: The map, or ``"auto"`` to choose a preset from the first record's columns
            (no mapping when none or several match).
        on_skip: Called with the line and the reason of each skipped row.

    Attributes:
        applied: The name of the map applied, once known; ``None`` when records pass unmapped.
        skipped: How many rows were skipped so far.
    """

    __slots__ = ("_field_map", "_on_skip", "_records", "applied", "skipped")

    def __init__(
        self,
        records: Iterator[FeedRecord],
        field_map: FieldMap | Literal["auto"],
        on_skip: Callable[[int, str], None] | None = None,
    ) -> None:
        self._records = records
        self._field_map = field_map
        self._on_skip = on_skip
        self.applied: str | None = None
        self.skipped = 0

    def __iter__(self) -> Iterator[FeedRecord]:
        records = iter(self._records)
        field_map = self._field_map
        before = 0
        for record in records:
            if not record.data:  # an unreadable record says nothing about the columns
                before += 1
                yield record
                continue
            if isinstance(field_map, str):  # "auto"
                detected = detect_field_map(record.data)
                if detected is None:
                    yield record
                    yield from records
                    return
                field_map = detected
            elif not _Plan(tuple(record.data), field_map).matched:
                shown = ", ".join(list(record.data)[:8])
                raise FeedFormatError(
                    f"line {record.line}: the feed has none of the columns of the "
                    f"{field_map.name!r} column map (its columns: {shown}"
                    f"{', ...' if len(record.data) > 8 else ''})",
                    line=record.line,
                )
            self.applied = field_map.name
            yield from self._mapped(record, records, field_map, before)
            return

    def _mapped(
        self, first: FeedRecord, rest: Iterator[FeedRecord], field_map: FieldMap, index: int
    ) -> Iterator[FeedRecord]:
        """Map ``first`` and the records after it, numbering them on from ``index``."""
        plans: dict[tuple[str, ...], _Plan] = {}
        skip = field_map.skip
        group_by = field_map.group_by
        on_skip = self._on_skip
        first_item = _first_item
        group_value: object = None
        head: dict[str, object] = {}
        data: Mapping[str, object] = first.data
        plan = _Plan(tuple(first.data), field_map)
        key_of = _Plan.key_of
        plan_keys: tuple[str, ...] | None = None
        fields: tuple[tuple[str, tuple[str, ...]], ...] = ()
        copied: tuple[str, ...] = ()
        lists: frozenset[str] = frozenset()

        def cell(column: str) -> str:
            key = key_of(plan, column)
            value = None if key is None else data.get(key)
            return "" if value is None else str(value).strip()

        record: FeedRecord | None = first
        while record is not None:
            data = record.data
            keys = tuple(data)
            if keys != plan_keys:  # compared key by key, cheaper than hashing them all
                found = plans.get(keys)
                if found is None:
                    found = _Plan(keys, field_map)
                    if len(plans) < _MAX_PLANS:
                        plans[keys] = found
                plan, plan_keys = found, keys
                fields, copied, lists = plan.fields, plan.copied, plan.lists
            continues = False
            if group_by is not None and plan.group is not None:
                value = data.get(plan.group)
                continues = value == group_value and not _is_blank(value)
                if not continues:
                    group_value = value
                    head = {key: data[key] for key in plan.inherit if key in data}
            reason = None if skip is None or record.error is not None else skip(cell)
            if reason is not None:
                self.skipped += 1
                if on_skip is not None:
                    on_skip(record.line, reason)
                record = next(rest, None)
                continue
            if continues and head:
                data = {**data, **head}
            out: dict[str, object] = {}
            get = data.get
            for target, sources in fields:
                for key in sources:
                    value = get(key)
                    if value is None:
                        continue
                    if type(value) is str:
                        if not value or value.isspace():
                            continue
                        if key in lists:
                            value = first_item(value)
                    out[target] = value
                    break
            if copied:  # the plan is for these very keys
                out.update({key: data[key] for key in copied})
            index += 1
            mapped = new(FeedRecord)
            set_data(mapped, out)
            set_line(mapped, record.line)
            set_index(mapped, index)
            set_error(mapped, record.error)
            yield mapped
            record = next(rest, None)


# -- presets --------------------------------------------------------------------------------------


def _shopify_skip(cell: Callable[[str], str]) -> str | None:
    if not (cell("Title") or cell("Variant SKU") or cell("Variant Price") or cell("Option1 Value")):
        return "an extra image of the product above it, not a variant"
    return None


def _woocommerce_skip(cell: Callable[[str], str]) -> str | None:
    kinds = {kind.strip().lower() for kind in cell("Type").split(",")}
    if "variable" in kinds:
        return "a variable product, whose variations are the products"
    if "grouped" in kinds:
        return "a grouped product, a set of other products"
    return None


def _magento_skip(cell: Callable[[str], str]) -> str | None:
    if cell("store_view_code"):
        return "a store view's row, overriding values of the default row of its SKU"
    kind = cell("product_type").lower()
    if kind == "configurable":
        return "a configurable product, whose simple products are the products"
    if kind == "grouped":
        return "a grouped product, a set of other products"
    return None


#: Shopify's product CSV: one row per variant, the product's own columns filled on its first row.
SHOPIFY = FieldMap(
    name="shopify",
    columns={
        "Variant SKU": "sku",
        "Title": "title",
        "Body (HTML)": "description",
        "Variant Price": "price",
        "Variant Inventory Qty": "stock",
        "Variant Image": "image_url",
        "Image Src": "image_url",
        "Vendor": "brand",
        "Variant Barcode": "gtin",
    },
    signatures=(
        frozenset({"Handle", "Title", "Variant Price"}),
        frozenset({"Handle", "Variant SKU"}),
    ),
    group_by="Handle",
    inherit=frozenset(
        {
            "Title",
            "Body (HTML)",
            "Vendor",
            "Product Category",
            "Type",
            "Tags",
            "Published",
            "Status",
            "Image Src",
            "SEO Title",
            "SEO Description",
        }
    ),
    skip=_shopify_skip,
)

#: WooCommerce's product CSV exporter: simple products, and variations after their parent.
WOOCOMMERCE = FieldMap(
    name="woocommerce",
    columns={
        "SKU": "sku",
        "Name": "title",
        "Description": "description",
        "Short description": "description",
        "Regular price": "price",
        "Sale price": "sale_price",
        "Stock": "stock",
        "Images": "image_url",
        "External URL": "url",
        "GTIN, UPC, EAN, or ISBN": "gtin",
    },
    signatures=(frozenset({"Type", "SKU", "Name", "Regular price"}),),
    list_columns=frozenset({"Images"}),
    skip=_woocommerce_skip,
)

#: Magento 2's product CSV (System > Export), and its sample-data import files.
MAGENTO = FieldMap(
    name="magento",
    columns={
        "sku": "sku",
        "name": "title",
        "description": "description",
        "short_description": "description",
        "price": "price",
        "special_price": "sale_price",
        "qty": "stock",
    },
    signatures=(
        frozenset({"sku", "name", "price", "qty"}),
        frozenset({"sku", "name", "price", "product_type"}),
    ),
    skip=_magento_skip,
)

#: The built-in presets, by name.
FIELD_MAPS: Mapping[str, FieldMap] = MappingProxyType(
    {"magento": MAGENTO, "shopify": SHOPIFY, "woocommerce": WOOCOMMERCE}
)
