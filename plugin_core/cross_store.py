"""Stores side by side: one row of KPIs per store, for an agency comparing its clients.

Each row is read from the store's own reports (reports.kpis, and the review KPIs' average
rating), never recomputed, so a row says what the store's own KPI page says. Money stays per
currency: stores selling in several currencies cannot be summed into one figure (the CLI table
shows `multi` for them; the API answers every currency).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from parcours import reports
from parcours.accounts import StoreInfo, get_store
from parcours.review_reports import ReviewPeriod, review_report

__all__ = ["COLUMNS", "kpi_rows", "kpi_table"]


def kpi_row(conn: Connection, store: StoreInfo, period: reports.Period) -> dict[str, Any]:
    """The store's KPIs over the period, in one flat row."""
    kpis = reports.kpis(conn, get_store(conn, store.key), period)
    reviews = review_report(conn, store.id, ReviewPeriod.of(period.start, period.end))
    return {
        "store": store.key, "name": store.name, "account": store.account,
        "platform": store.platform, "tags": list(store.tags),
        "journeys": kpis["journeys"], "conversion": kpis["conversion"]["overall"],
        "orders": sum(kpis["orders"].values()), "revenue": kpis["revenue"],
        "average_order_value": kpis["average_order_value"],
        "cart_abandonment": kpis["cart_abandonment"],
        "checkout_abandonment": kpis["checkout_abandonment"],
        "repeat_purchase_rate": kpis["repeat_purchase_rate"],
        "average_rating": reviews["totals"]["average_rating"],
        "reviews": reviews["totals"]["reviews"],
    }


def kpi_rows(conn: Connection, stores: Sequence[StoreInfo], period: reports.Period
             ) -> list[dict[str, Any]]:
    return [kpi_row(conn, store, period) for store in stores]


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _money(per_currency: dict[str, str]) -> str:
    """One currency's amount with its code; `multi` for several (not addable); `-` for none."""
    if not per_currency:
        return "-"
    if len(per_currency) > 1:
        return "multi"
    [(currency, amount)] = per_currency.items()
    return f"{amount} {currency}"


COLUMNS: tuple[tuple[str, str], ...] = (
    ("store", "store"), ("platform", "platform"), ("tags", "tags"), ("journeys", "journeys"),
    ("conversion", "conv."), ("orders", "orders"), ("revenue", "revenue"),
    ("average_order_value", "AOV"), ("cart_abandonment", "cart ab."),
    ("checkout_abandonment", "checkout ab."), ("repeat_purchase_rate", "repeat"),
    ("average_rating", "rating"),
)
_RATES = {"conversion", "cart_abandonment", "checkout_abandonment", "repeat_purchase_rate"}


def _cell(name: str, value: Any) -> str:
    if name in _RATES:
        return _rate(value)
    if name in ("revenue", "average_order_value"):
        return _money(value)
    if name == "tags":
        return ",".join(value) or "-"
    if name == "average_rating":
        return "-" if value is None else f"{value:.2f}"
    return str(value)


def kpi_table(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as an aligned text table (numbers right-aligned)."""
    cells = [[title for _, title in COLUMNS]]
    cells += [[_cell(name, row[name]) for name, _ in COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    left = {"store", "platform", "tags"}
    return "\n".join(
        "  ".join(text.ljust(width) if name in left else text.rjust(width)
                  for (name, _), text, width in zip(COLUMNS, line, widths, strict=True)
                  ).rstrip()
        for line in cells)
