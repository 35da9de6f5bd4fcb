"""Money is integer minor units with an ISO-4217 code; points are integers."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

# ISO 4217 active codes and their minor-unit exponents. Codes not listed have exponent 2.
_EXPONENT_0 = {
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI",
    "VND", "VUV", "XAF", "XOF", "XPF",
}  # fmt: skip
_EXPONENT_3 = {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"}
_EXPONENT_4 = {"CLF", "UYW"}
_EXPONENT_2 = {
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF",
    "CHE", "CHF", "CHW", "CNY", "COP", "COU", "CRC", "CUP", "CVE", "CZK", "DKK", "DOP",
    "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GTQ",
    "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IRR", "JMD", "KES", "KGS", "KHR",
    "KPW", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "MAD", "MDL", "MGA", "MKD", "MMK",
    "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO",
    "NOK", "NPR", "NZD", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "QAR", "RON", "RSD", "RUB",
    "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC",
    "SYP", "SZL", "THB", "TJS", "TMT", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "USD", "USN",
    "UYU", "UZS", "VED", "VES", "WST", "XCD", "YER", "ZAR", "ZMW", "ZWG",
}  # fmt: skip

CURRENCY_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(_EXPONENT_2, 2),
    **dict.fromkeys(_EXPONENT_0, 0),
    **dict.fromkeys(_EXPONENT_3, 3),
    **dict.fromkeys(_EXPONENT_4, 4),
}

# Larger amounts are refused as absurd: 10^9 minor units is ten million euros. It also keeps
# every amount inside GraphQL's 32-bit Int.
MAX_AMOUNT_MINOR = 10**9
MAX_QUANTITY = 10**6
MAX_POINTS_PER_MOVEMENT = 10**9
# Balances and lifetime totals stay within GraphQL's 32-bit Int, which clients read them as.
MAX_BALANCE = 2**31 - 1
MAX_POINTS_PER_CURRENCY_UNIT = 10_000


def is_known_currency(code: str) -> bool:
    return code in CURRENCY_EXPONENTS


def points_for_amount(amount_minor: int, currency: str, points_per_unit: int) -> int:
    """Points for an amount, rounded down: a partial currency unit earns nothing."""
    scale: int = 10 ** CURRENCY_EXPONENTS[currency]
    return (amount_minor * points_per_unit) // scale


MIN_EXCHANGE_RATE = Decimal("0.000001")
MAX_EXCHANGE_RATE = Decimal(1_000_000)


def parse_exchange_rate(text: str) -> Decimal | None:
    """A positive rate with at most 10 significant digits, within sane bounds; else None."""
    try:
        rate = Decimal(text.strip())
    except InvalidOperation:
        return None
    if not rate.is_finite() or not MIN_EXCHANGE_RATE <= rate <= MAX_EXCHANGE_RATE:
        return None
    if len(rate.normalize().as_tuple().digits) > 10:
        return None
    return rate


MAX_COST_PER_POINT_MINOR = Decimal(1_000_000)


def parse_cost_per_point(text: str) -> Decimal | None:
    """A cost per point in minor units: a decimal from 0 to 1,000,000 with at most 6 decimal
    places; else None."""
    try:
        cost = Decimal(text.strip())
    except InvalidOperation:
        return None
    if not cost.is_finite() or not 0 <= cost <= MAX_COST_PER_POINT_MINOR:
        return None
    exponent = cost.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -6:
        return None
    return cost


def points_in_money(points: int | float, cost_per_point_minor: Decimal | None) -> int | None:
    """Points valued at the program's cost per point, in minor units rounded half to even;
    None when no cost is configured."""
    if cost_per_point_minor is None:
        return None
    value = Decimal(points) * cost_per_point_minor
    return int(value.to_integral_value(rounding=ROUND_HALF_EVEN))


def convert_minor(amount_minor: int, from_currency: str, to_currency: str, rate: Decimal) -> int:
    """`amount_minor` of one currency in minor units of another, rounded half to even."""
    shift = CURRENCY_EXPONENTS[to_currency] - CURRENCY_EXPONENTS[from_currency]
    converted = Decimal(amount_minor) * rate * (Decimal(10) ** shift)
    return int(converted.to_integral_value(rounding=ROUND_HALF_EVEN))
