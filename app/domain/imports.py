"""Import files: their kinds and columns, and each record checked into a typed row (no I/O).

A file is CSV (a header row naming the columns) or JSON Lines (one object a line). Records are
read one at a time (app/services/imports/reader.py); a record that cannot be used becomes
`RowError`s naming its line, its column and a code, and the import goes on with the next one.

- members: one record per customer.
- orders: in CSV one record per order line, the lines of one order on consecutive rows that
  repeat the order's own columns; in JSON Lines one object per order with a `lines` list.
  Orders come in the time they were placed (replay needs history in order).
- balances: one record per lot of an old program's points, with its own expiry; the lots of one
  member on consecutive records, which become one ledger transaction.

The columns and their meaning are in docs/capabilities/import.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from app.domain.errors import ErrorCode
from app.domain.member_profile import CONTACT_FIELDS
from app.domain.money import MAX_AMOUNT_MINOR, MAX_POINTS_PER_MOVEMENT
from app.domain.validation import EMAIL_MAX, EXTERNAL_ID_MAX, NAME_MAX, has_control_characters

# At most this many row errors are kept with an import's report; the count goes on.
MAX_REPORTED_ERRORS = 1000


class ImportKind(StrEnum):
    MEMBERS = "members"
    ORDERS = "orders"
    BALANCES = "balances"


class FileFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


class RowErrorCode(StrEnum):
    """Why a record was not imported (besides the service's own codes, app/domain/errors.py)."""

    REQUIRED = ErrorCode.REQUIRED.value
    INVALID_VALUE = ErrorCode.INVALID_VALUE.value
    INVALID_AMOUNT = ErrorCode.INVALID_AMOUNT.value
    INVALID_POINTS = ErrorCode.INVALID_POINTS.value
    TOO_LONG = ErrorCode.TOO_LONG.value
    MEMBER_NOT_FOUND = ErrorCode.MEMBER_NOT_FOUND.value
    # The line is not CSV or JSON this kind can read (bad JSON, a wrong number of fields).
    MALFORMED_RECORD = "MALFORMED_RECORD"
    # An order placed before the one on the line above it: history is replayed in time order.
    NOT_IN_TIME_ORDER = "NOT_IN_TIME_ORDER"
    # The order was placed before its customer enrolled (as a member it never earned).
    PLACED_BEFORE_ENROLMENT = "PLACED_BEFORE_ENROLMENT"
    # A line of an order whose order columns differ from its first line's.
    INCONSISTENT_ORDER = "INCONSISTENT_ORDER"
    # The member's opening balance was imported already, with other lots.
    BALANCE_ALREADY_IMPORTED = "BALANCE_ALREADY_IMPORTED"


@dataclass(frozen=True)
class RowError:
    line: int
    field: str | None
    code: str
    message: str


class RowRejectedError(Exception):
    """A record that cannot be used, with every problem found in it."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(errors[0].message)
        self.errors = errors


@dataclass(frozen=True)
class MemberRow:
    line: int
    customer_id: str
    email: str | None
    name: str | None
    birthday: date | None
    phone: str | None
    locale: str | None
    marketing_consent: bool | None
    enrolled_at: datetime | None


@dataclass(frozen=True)
class LineRow:
    sku: str
    quantity: int
    unit_price_minor: int
    category: str | None


@dataclass(frozen=True)
class OrderRow:
    line: int
    order_id: str
    customer_id: str
    placed_at: datetime
    currency: str
    lines: tuple[LineRow, ...]
    shipping_minor: int
    tax_minor: int
    discount_minor: int
    exchange_rate: str | None
    channel: str | None


@dataclass(frozen=True)
class LotRow:
    points: int
    expires_at: datetime | None


@dataclass(frozen=True)
class BalanceRow:
    """A member's opening balance: every consecutive record of one customer."""

    line: int
    customer_id: str
    lots: tuple[LotRow, ...]

    @property
    def points(self) -> int:
        return sum(lot.points for lot in self.lots)


MEMBER_COLUMNS = ("customer_id", *CONTACT_FIELDS, "enrolled_at")
ORDER_COLUMNS = (
    "order_id",
    "customer_id",
    "placed_at",
    "currency",
    "sku",
    "category",
    "quantity",
    "unit_price_minor",
    "shipping_minor",
    "tax_minor",
    "discount_minor",
    "exchange_rate",
    "channel",
)
# The columns of an order repeated on each of its lines in CSV (the rest describe the line).
ORDER_LEVEL_COLUMNS = (
    "order_id",
    "customer_id",
    "placed_at",
    "currency",
    "shipping_minor",
    "tax_minor",
    "discount_minor",
    "exchange_rate",
    "channel",
)
BALANCE_COLUMNS = ("customer_id", "points", "expires_at")
COLUMNS = {
    ImportKind.MEMBERS: MEMBER_COLUMNS,
    ImportKind.ORDERS: ORDER_COLUMNS,
    ImportKind.BALANCES: BALANCE_COLUMNS,
}
REQUIRED_COLUMNS = {
    ImportKind.MEMBERS: ("customer_id",),
    ImportKind.ORDERS: (
        "order_id",
        "customer_id",
        "placed_at",
        "currency",
        "sku",
        "quantity",
        "unit_price_minor",
    ),
    ImportKind.BALANCES: ("customer_id", "points"),
}


class _Fields:
    """Reads the fields of one record, collecting every problem."""

    def __init__(self, line: int, record: dict[str, Any]) -> None:
        self.line = line
        self.record = record
        self.errors: list[RowError] = []

    def add(self, field: str | None, code: RowErrorCode, message: str) -> None:
        self.errors.append(RowError(self.line, field, code.value, message))

    def raw(self, name: str) -> Any:
        value = self.record.get(name)
        if isinstance(value, str):
            value = value.strip()
            return value or None
        return value

    def text(self, name: str, max_length: int, *, required: bool = False) -> str | None:
        value = self.raw(name)
        if value is None:
            if required:
                self.add(name, RowErrorCode.REQUIRED, f"{name} must not be empty")
            return None
        if not isinstance(value, str):
            value = str(value)
        if has_control_characters(value):
            self.add(name, RowErrorCode.INVALID_VALUE, f"{name} contains control characters")
        elif len(value) > max_length:
            self.add(name, RowErrorCode.TOO_LONG, f"{name} is longer than {max_length}")
        return value

    def integer(
        self,
        name: str,
        low: int,
        high: int,
        *,
        default: int | None = None,
        code: RowErrorCode = RowErrorCode.INVALID_AMOUNT,
    ) -> int:
        value = self.raw(name)
        if value is None:
            if default is None:
                self.add(name, RowErrorCode.REQUIRED, f"{name} must not be empty")
                return 0
            return default
        if isinstance(value, (bool, float)):
            parsed: int | None = None
        elif isinstance(value, int):
            parsed = value
        else:
            try:
                parsed = int(str(value))
            except ValueError:
                parsed = None
        if parsed is None:
            self.add(name, RowErrorCode.INVALID_VALUE, f"{name} is not a whole number: {value!r}")
            return 0
        if not low <= parsed <= high:
            self.add(name, code, f"{name} must be between {low} and {high}, not {parsed}")
        return parsed

    def moment(self, name: str, *, required: bool = False) -> datetime | None:
        value = self.raw(name)
        if value is None:
            if required:
                self.add(name, RowErrorCode.REQUIRED, f"{name} must not be empty")
            return None
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            self.add(name, RowErrorCode.INVALID_VALUE, f"{name} is not an ISO 8601 time: {value!r}")
            return None
        if parsed.tzinfo is None:
            self.add(
                name,
                RowErrorCode.INVALID_VALUE,
                f"{name} needs a time zone, e.g. 2024-03-01T10:00:00Z",
            )
            return None
        return parsed.astimezone(UTC)

    def day(self, name: str) -> date | None:
        value = self.raw(name)
        if value is None:
            return None
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.add(name, RowErrorCode.INVALID_VALUE, f"{name} is not a date (YYYY-MM-DD)")
            return None

    def flag(self, name: str) -> bool | None:
        value = self.raw(name)
        if value is None or isinstance(value, bool):
            return value
        text = str(value).lower()
        if text in ("true", "yes", "1"):
            return True
        if text in ("false", "no", "0"):
            return False
        self.add(name, RowErrorCode.INVALID_VALUE, f"{name} is not true or false: {value!r}")
        return None

    def done(self) -> None:
        if self.errors:
            raise RowRejectedError(self.errors)


def member_row(line: int, record: dict[str, Any]) -> MemberRow:
    fields = _Fields(line, record)
    row = MemberRow(
        line=line,
        customer_id=fields.text("customer_id", EXTERNAL_ID_MAX, required=True) or "",
        email=fields.text("email", EMAIL_MAX),
        name=fields.text("name", NAME_MAX),
        birthday=fields.day("birthday"),
        phone=fields.text("phone", 32),
        locale=fields.text("locale", 35),
        marketing_consent=fields.flag("marketing_consent"),
        enrolled_at=fields.moment("enrolled_at"),
    )
    fields.done()
    return row


def _line_row(fields: _Fields) -> LineRow:
    return LineRow(
        sku=fields.text("sku", EXTERNAL_ID_MAX, required=True) or "",
        quantity=fields.integer("quantity", 1, 100_000, code=RowErrorCode.INVALID_VALUE),
        unit_price_minor=fields.integer("unit_price_minor", 0, MAX_AMOUNT_MINOR),
        category=fields.text("category", EXTERNAL_ID_MAX),
    )


def order_row(line: int, records: list[dict[str, Any]]) -> OrderRow:
    """An order from its records: CSV's consecutive line rows, or one JSON object whose
    `lines` list holds them."""
    first = records[0]
    fields = _Fields(line, first)
    nested = first.get("lines")
    if nested is not None:
        if not isinstance(nested, list) or not nested or len(records) > 1:
            fields.add("lines", RowErrorCode.INVALID_VALUE, "lines must be a non-empty list")
            fields.done()
        line_records = [item if isinstance(item, dict) else {} for item in nested]
    else:
        line_records = records
    lines = []
    for record in line_records:
        line_fields = _Fields(line, record)
        lines.append(_line_row(line_fields))
        fields.errors.extend(line_fields.errors)
    for record in records[1:]:
        for name in ORDER_LEVEL_COLUMNS:
            if (str(record.get(name) or "").strip()) != (str(first.get(name) or "").strip()):
                fields.add(
                    name,
                    RowErrorCode.INCONSISTENT_ORDER,
                    f"{name} differs between the lines of order {first.get('order_id')!r}",
                )
    currency = fields.text("currency", 3, required=True) or ""
    row = OrderRow(
        line=line,
        order_id=fields.text("order_id", EXTERNAL_ID_MAX, required=True) or "",
        customer_id=fields.text("customer_id", EXTERNAL_ID_MAX, required=True) or "",
        placed_at=fields.moment("placed_at", required=True) or datetime.min.replace(tzinfo=UTC),
        currency=currency.upper(),
        lines=tuple(lines),
        shipping_minor=fields.integer("shipping_minor", 0, MAX_AMOUNT_MINOR, default=0),
        tax_minor=fields.integer("tax_minor", 0, MAX_AMOUNT_MINOR, default=0),
        discount_minor=fields.integer("discount_minor", 0, MAX_AMOUNT_MINOR, default=0),
        exchange_rate=fields.text("exchange_rate", 32),
        channel=(fields.text("channel", 32) or "").upper() or None,
    )
    fields.done()
    return row


def lot_row(line: int, record: dict[str, Any]) -> LotRow:
    fields = _Fields(line, record)
    lot = LotRow(
        points=fields.integer(
            "points", 1, MAX_POINTS_PER_MOVEMENT, code=RowErrorCode.INVALID_POINTS
        ),
        expires_at=fields.moment("expires_at"),
    )
    fields.done()
    return lot


def record_key(kind: ImportKind, record: dict[str, Any]) -> str:
    """What groups consecutive records into one import item: the order's id for orders (CSV
    lines of one order), the customer's id for balances; members never group."""
    if kind is ImportKind.ORDERS:
        return str(record.get("order_id") or "").strip()
    if kind is ImportKind.BALANCES:
        return str(record.get("customer_id") or "").strip()
    return ""
