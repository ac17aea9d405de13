"""Numbers as people read them, shared by the report table and the TUI."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime


def tokens(count: int | float) -> str:
    """Compact token counts: 812, 41.2 k, 3.10 M, 1.12 B."""
    count = float(count)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(count) >= limit:
            value = count / limit
            return f"{value:,.2f} {suffix}" if value < 100 else f"{value:,.1f} {suffix}"
    return f"{count:,.0f}"


def cost(usd: float, *, unpriced: int = 0, calls: int = 0) -> str:
    """Dollars with sensible precision; a cost with unpriced calls is marked as a lower bound."""
    if calls and unpriced == calls:
        return "unpriced"
    if usd >= 100:
        text = f"${usd:,.0f}"
    elif usd >= 1:
        text = f"${usd:,.2f}"
    elif usd >= 0.01:
        text = f"${usd:.3f}"
    elif usd > 0:
        text = f"${usd:.4f}"
    else:
        text = "$0"
    return f"≥{text}" if unpriced else text


def counted(count: int, noun: str, plural: str = "") -> str:
    """'1 call', '2 calls', '1,204 sessions': a count with its noun in the right number."""
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"


def decimal_shape(texts: Iterable[str]) -> tuple[int, int]:
    """The cells before the decimal point and from it on that `texts` need to line up on it
    (texts without a digit, such as "unpriced", are left out: they are right-aligned)."""
    before = after = 0
    for text in texts:
        if any(char.isdigit() for char in text):
            whole, dot, fraction = text.partition(".")
            before = max(before, len(whole))
            after = max(after, len(dot + fraction))
    return before, after


def on_decimal(text: str, shape: tuple[int, int], width: int) -> str:
    """`text` in `width` cells, its decimal point where `shape`'s is (right-aligned when it
    has no digit or the shape does not fit): a column of costs that reads like a ledger."""
    before, after = shape
    if before + after > width or not any(char.isdigit() for char in text):
        return text.rjust(width)
    whole, dot, fraction = text.partition(".")
    return (whole.rjust(before) + (dot + fraction).ljust(after)).rjust(width)


def percent(share: float | None) -> str:
    return "–" if share is None else f"{share * 100:.1f}%"


def utc_iso(timestamp: float, timespec: str = "auto") -> str:
    """An epoch time as JSON shows it: ISO 8601 in UTC, with a Z."""
    return (
        datetime.fromtimestamp(timestamp, UTC).isoformat(timespec=timespec).replace("+00:00", "Z")
    )
