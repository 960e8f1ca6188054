"""Simulated shoppers for the demo store, as canonical event records, and a client to post them.

Why: a fresh install has nothing to show, and whole-pipeline tests need traffic that looks like a
shop's. Personas (the decided buyer, the undecided, the passer-by, the bargain hunter, the loyal
customer) walk the storefront and the checkout, then the server side happens to their orders
(payment, fulfilment, delivery, review request, review), with probabilities chosen so the usual
shop figures come out: ~70% of carts and ~30% of checkouts abandoned, some failed payments, a share
of reviews, some repeat buyers. Deterministic for a seed, so docs and tests see the same numbers
and re-posting a seed is a no-op for the server (same events, same ids, same batch bodies).

Identities are what a real store gives: the storefront knows an `anonymous_id` (the browser), the
checkout adds its `checkout_token`, the contact step the `email`; order events carry the email and
the checkout token. Events sharing any of them are stitched into one profile: that is how a
purchase from a second device still joins the shopper's history.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import islice
from typing import Any

import requests

from parcours.errors import AuthError, NotFoundError, ParcoursError, ValidationError

SOURCE = "demo"  # every simulated event says so, so demo data is never mistaken for real traffic
CURRENCY = "EUR"
STORE_URL = "https://demo-store.example.com"
FIRST_ORDER_NUMBER = 1001
FREE_SHIPPING_FROM = Decimal("60.00")
SHIPPING = Decimal("4.90")
CENT = Decimal("0.01")
P_PAYMENT_FAILS = 0.09  # card declined, 3-D Secure abandoned, ...
P_PAYMENT_RETRY = 0.6  # after a failure, tries another card
P_CANCELLED = 0.03  # paid, then cancelled and refunded before shipping
P_DELIVERED = 0.97  # of fulfilled orders; the rest are still in transit (or lost)
RATINGS = (1, 2, 3, 4, 5)
RATING_WEIGHTS = (0.05, 0.07, 0.13, 0.3, 0.45)  # reviews skew positive, as in most shops
# Arrivals by hour of the day (relative to `start`): quiet nights, busy evenings.
HOUR_WEIGHTS = (1, 1, 1, 1, 1, 1, 2, 3, 4, 5, 5, 6, 6, 5, 5, 5, 6, 7, 8, 9, 9, 7, 4, 2)
REFERRERS = ("direct", "google", "google", "instagram", "newsletter", "comparison_site")
CHANNELS = {"direct": "direct", "google": "organic_search", "instagram": "social",
            "newsletter": "email", "comparison_site": "referral"}
DEVICES, DEVICE_WEIGHTS = ("mobile", "desktop", "tablet"), (0.62, 0.33, 0.05)
# The demo's widget experiment: a fifth of shoppers never see the early shipping estimate. The
# simulated effect (shoppers who saw it start the checkout a little more often) is the demo's
# assumption, there for the experiments page to have something to measure.
EXPERIMENT_WIDGET, EXPERIMENT_SALT, HOLDOUT_SHARE = "shipping_estimate", "demo-1", 0.2
EXPOSED_CHECKOUT_LIFT = 1.25
DEMO_WIDGETS = {EXPERIMENT_WIDGET: {"holdout": HOLDOUT_SHARE, "salt": EXPERIMENT_SALT}}
PAYMENT_ERRORS = ("card_declined", "insufficient_funds", "authentication_failed")


@dataclass(frozen=True)
class Product:
    id: str
    title: str
    price: Decimal
    collection: str

    @property
    def query(self) -> str:
        """What a shopper looking for it types in the search box."""
        return self.title.split()[-1].lower()


COLLECTIONS = {1: "kitchen", 2: "living", 3: "outdoor", 4: "bath"}
CATALOG: tuple[Product, ...] = tuple(
    Product(f"p-{pid}", title, Decimal(price), COLLECTIONS[pid // 100])
    for pid, title, price in (
        (101, "Stoneware mug", "14.90"), (102, "Chef's knife", "79.00"),
        (103, "Cast-iron pan", "54.00"), (104, "Linen tea towels", "19.50"),
        (201, "Wool throw", "89.00"), (202, "Ceramic table lamp", "119.00"),
        (203, "Scented candle", "24.00"), (204, "Linen cushion cover", "29.90"),
        (301, "Folding garden chair", "64.00"), (302, "Insulated bottle", "27.50"),
        (303, "Picnic blanket", "39.00"), (304, "Solar lantern", "34.90"),
        (401, "Bath towel", "32.00"), (402, "Olive oil soap", "6.90"),
        (403, "Bamboo bath mat", "44.00"), (404, "Waffle bathrobe", "74.00"),
    )
)


@dataclass(frozen=True)
class Persona:
    """How one kind of shopper behaves; probabilities are per visit unless said otherwise.

    Personas rather than one average shopper because real traffic is a mix: most abandonment comes
    from people who were never going to buy, most revenue from a few determined ones.
    """

    name: str
    weight: float  # share of shoppers
    visits: tuple[int, int]  # visits in one purchase cycle, at most, if nothing is bought
    p_browse: float  # goes beyond the landing page
    p_search: float  # uses the search box (else browses a collection)
    products: tuple[int, int]  # product pages viewed when browsing
    p_cart: float  # adds something to the cart
    p_checkout: float  # with a cart, starts the checkout
    p_step: float  # completes each of the four checkout steps
    budget: Decimal  # most expensive product they consider
    p_discount: float  # enters a discount code at checkout
    p_review: float  # reviews a delivered order (when asked)
    p_repeat: float  # comes back to shop again after an order
    max_orders: int

    def returning(self) -> Persona:
        """A customer back after an order knows the shop: they come to buy."""
        return replace(self, p_browse=max(self.p_browse, 0.9), p_cart=max(self.p_cart, 0.55),
                       p_checkout=max(self.p_checkout, 0.4), p_step=max(self.p_step, 0.92))


PERSONAS: tuple[Persona, ...] = (  # fields in declaration order: name, weight, visits, p_browse,
    # p_search, products, p_cart, p_checkout, p_step, budget, p_discount, p_review, p_repeat, max
    Persona("decided_buyer", 0.16, (1, 2), 0.97, 0.7, (1, 3), 0.7, 0.5, 0.92,
            Decimal("200"), 0.05, 0.3, 0.3, 2),
    Persona("undecided", 0.30, (1, 4), 0.85, 0.3, (2, 6), 0.3, 0.12, 0.85,
            Decimal("200"), 0.1, 0.2, 0.2, 2),
    Persona("passer_by", 0.33, (1, 1), 0.45, 0.1, (1, 2), 0.12, 0.05, 0.78,
            Decimal("200"), 0.0, 0.15, 0.05, 1),
    Persona("bargain_hunter", 0.15, (2, 5), 0.9, 0.5, (3, 8), 0.45, 0.08, 0.84,
            Decimal("40"), 0.8, 0.25, 0.2, 2),
    Persona("loyal_customer", 0.06, (1, 2), 0.95, 0.4, (1, 4), 0.8, 0.75, 0.96,
            Decimal("200"), 0.2, 0.5, 0.85, 4),
)


def _money(amount: Decimal) -> str:
    return str(amount.quantize(CENT))


def _item(product: Product) -> dict[str, Any]:
    return {"product_id": product.id, "title": product.title, "price": _money(product.price)}


class _Shopper:
    """One shopper's timeline: visits until `end`, and what happens to their orders after."""

    def __init__(self, index: int, persona: Persona, rng: random.Random, arrival: datetime,
                 end: datetime) -> None:
        self.index, self.persona, self.rng, self.now, self.end = index, persona, rng, arrival, end
        self.email = f"shopper{index + 1}@example.com"
        self.anonymous_id = self._uuid()
        self.device = rng.choices(DEVICES, DEVICE_WEIGHTS)[0]
        self.country = "FR"
        self.cart: list[Product] = []
        self.orders = 0
        self.records: list[tuple[datetime, dict[str, Any]]] = []

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _chance(self, p: float) -> bool:
        return self.rng.random() < p

    def _emit(self, name: str, identities: dict[str, str], properties: dict[str, Any],
              *, at: datetime | None = None, order: str | None = None,
              checkout: str | None = None, key: str | None = None) -> None:
        """Record an event; storefront events advance the shopper's clock by a few seconds."""
        if at is None:
            self.now += timedelta(seconds=self.rng.randint(4, 75))
            at = self.now
        record: dict[str, Any] = {"name": name, "occurred_at": at.isoformat(),
                                  "identities": dict(identities), "properties": dict(properties),
                                  "source": SOURCE}
        if order is not None or checkout is not None:
            kind, rid = ("order", order) if order is not None else ("checkout", checkout)
            record["resource"] = {"type": kind, "id": rid, "updated_at": at.isoformat()}
        if key is not None:
            record["key"] = key
        self.records.append((at, record))

    def run(self) -> list[tuple[datetime, dict[str, Any]]]:
        persona = self.persona
        while self.now < self.end and self._cycle(persona):
            if self.orders >= persona.max_orders or not self._chance(persona.p_repeat):
                break
            # Back some weeks later, sometimes from another device (stitched by email at checkout).
            self.now += timedelta(days=self.rng.uniform(6, 24))
            if self._chance(0.3):
                self.anonymous_id = self._uuid()
            persona = persona.returning()
        return self.records

    def _cycle(self, persona: Persona) -> bool:
        """Visits until a purchase or until the shopper gives up; True when they bought."""
        for visit in range(self.rng.randint(*persona.visits)):
            if visit:
                self.now += timedelta(hours=self.rng.uniform(2, 6 * 24))
            if self.now >= self.end:
                return False
            if self._visit(persona):
                return True
        return False

    def _visit(self, persona: Persona) -> bool:
        rng, ids = self.rng, {"anonymous_id": self.anonymous_id}
        affordable = [p for p in CATALOG if p.price <= persona.budget]
        wanted = rng.choice(affordable)
        landing = rng.choice(["/", f"/collections/{wanted.collection}", f"/products/{wanted.id}"])
        referrer = rng.choice(REFERRERS)
        self._emit("page_viewed", ids, {"url": STORE_URL + landing, "referrer": referrer,
                                        "device": self.device, "channel": CHANNELS[referrer]})
        if not self._chance(persona.p_browse):
            return False
        if self._chance(persona.p_search):
            results = sum(wanted.query in p.title.lower() for p in CATALOG)
            self._emit("search_submitted", ids, {"query": wanted.query, "results": results})
        else:
            self._emit("collection_viewed", ids, {"collection_id": wanted.collection,
                                                  "title": wanted.collection.title()})
        others = [p for p in affordable if p is not wanted]
        viewed = [wanted, *rng.sample(others, min(len(others), rng.randint(*persona.products) - 1))]
        for product in viewed:
            self._emit("product_viewed", ids, _item(product))
        arm = bucket(self.anonymous_id)
        self._emit("widget_shown", ids, {"widget": EXPERIMENT_WIDGET, "bucket": arm,
                                         "page": "product", "experiment": EXPERIMENT_SALT})
        lift = EXPOSED_CHECKOUT_LIFT if arm == "exposed" else 1.0
        if self._chance(persona.p_cart):
            for product in viewed[: rng.choice((1, 1, 1, 2))]:
                self.cart.append(product)
                self._emit("product_added_to_cart", ids, {**_item(product), "quantity": 1})
        if not self.cart:
            return False
        if self._chance(0.7):
            self._emit("cart_viewed", ids, self._cart_properties())
        if len(self.cart) > 1 and self._chance(0.2):
            removed = self.cart.pop(rng.randrange(len(self.cart)))
            self._emit("product_removed_from_cart", ids, {**_item(removed), "quantity": 1})
        return self._chance(persona.p_checkout * lift) and self._checkout(persona)

    def _cart_properties(self) -> dict[str, Any]:
        subtotal = sum((p.price for p in self.cart), Decimal(0))
        return {"items": [_item(p) for p in self.cart], "subtotal": _money(subtotal),
                "currency": CURRENCY}

    def _checkout(self, persona: Persona) -> bool:
        """The four checkout steps, payment (which may fail), then the order."""
        rng, token = self.rng, f"{self.rng.getrandbits(128):032x}"
        ids = {"anonymous_id": self.anonymous_id, "checkout_token": token}
        properties = self._cart_properties()
        if self._chance(persona.p_discount):
            properties["discount_code"] = rng.choice(("WELCOME10", "SPRING10", "NEWSLETTER10"))
        self._emit("checkout_started", ids, properties)
        if not self._chance(persona.p_step):
            return False
        ids["email"] = self.email
        self._emit("checkout_contact_info_submitted", ids, {"email": self.email})
        if not self._chance(persona.p_step):
            return False
        self.country = rng.choice(("FR", "FR", "FR", "BE", "DE", "ES", "IT"))
        self._emit("checkout_address_info_submitted", ids, {"country": self.country})
        if not self._chance(persona.p_step):
            return False
        subtotal = Decimal(properties["subtotal"])
        if "discount_code" in properties:
            subtotal -= (subtotal / 10).quantize(CENT)
        shipping = Decimal(0) if subtotal >= FREE_SHIPPING_FROM else SHIPPING
        self._emit("checkout_shipping_info_submitted", ids,
                   {"shipping_method": "standard", "shipping": _money(shipping)})
        total = _money(subtotal + shipping)
        for attempt in (1, 2):
            if not self._chance(persona.p_step):
                return False
            self._emit("payment_info_submitted", ids, {"total": total, "currency": CURRENCY})
            if not self._chance(P_PAYMENT_FAILS):
                break
            # The payment provider's answer: a server event, keyed by email and checkout.
            self._emit("payment_failed", {"email": self.email, "checkout_token": token},
                       {"reason": rng.choice(PAYMENT_ERRORS), "total": total, "currency": CURRENCY},
                       at=self.now + timedelta(seconds=3), checkout=token,
                       key=f"checkout:{token}:payment_failed:{attempt}")
            self.now += timedelta(seconds=3)
            if attempt == 2 or not self._chance(P_PAYMENT_RETRY):
                return False
        self._order(ids, token, total)
        return True

    def _order(self, ids: dict[str, str], token: str, total: str) -> None:
        """The order and its aftermath, on the server's clock (days, not seconds)."""
        self.orders += 1
        order = f"pending:{self.index}:{self.orders}"  # numbered in time order by `simulate`
        amount = {"total": total, "currency": CURRENCY}
        items = [_item(p) for p in self.cart]
        self.cart = []
        self._emit("checkout_completed", ids, {"order_id": order, **amount})
        server = {"email": self.email, "checkout_token": token}
        paid_at = self.now + timedelta(seconds=self.rng.randint(2, 20))

        def emit(name: str, at: datetime, properties: dict[str, Any],
                 identities: dict[str, str] = server) -> None:
            self._emit(name, identities, properties, at=at, order=order,
                       key=f"order:{order}:{name}")

        emit("order_placed", self.now + timedelta(seconds=1), {**amount, "items": items})
        emit("order_paid", paid_at, {**amount, "country": self.country})
        rng, day = self.rng, timedelta(days=1)
        if self._chance(P_CANCELLED):
            emit("order_cancelled", paid_at + day * rng.uniform(0.1, 1), {"reason": "customer"})
            emit("order_refunded", paid_at + day * rng.uniform(1, 3), amount)
            return
        fulfilled_at = paid_at + day * rng.uniform(0.3, 3)
        emit("order_fulfilled", fulfilled_at, {"carrier": rng.choice(("colissimo", "dhl", "ups"))})
        if not self._chance(P_DELIVERED):
            return
        delivered_at = fulfilled_at + day * rng.uniform(1, 5)
        emit("order_delivered", delivered_at, {})
        requested_at = delivered_at + day * rng.uniform(5, 8)
        emit("review_requested", requested_at, {"channel": "email"}, {"email": self.email})
        if self._chance(self.persona.p_review):
            product = rng.choice(items)
            rating = rng.choices(RATINGS, RATING_WEIGHTS)[0]
            emit("review_submitted", requested_at + day * rng.uniform(0.2, 10),
                 {"rating": rating, "product_id": product["product_id"],
                  "title": product["title"]}, {"email": self.email})
        self.now = max(self.now, delivered_at)  # the next visit comes after the parcel


def bucket(shopper: str) -> str:
    """The shopper's arm, as the storefront kit computes it (FNV-1a of id, widget and salt)."""
    h = 2166136261
    for char in f"{shopper}:{EXPERIMENT_WIDGET}:{EXPERIMENT_SALT}":
        h = ((h ^ ord(char)) * 16777619) & 0xFFFFFFFF
    return "holdout" if h / 4294967296 < HOLDOUT_SHARE else "exposed"


def _number_orders(records: list[dict[str, Any]]) -> None:
    """Give orders shop-style numbers (1001, 1002, ...) in the order they were placed."""
    numbers: dict[str, str] = {}
    for record in records:
        properties, resource = record["properties"], record.get("resource")
        if resource is not None and resource["type"] == "order":
            old = resource["id"]
        elif "order_id" in properties:
            old = properties["order_id"]
        else:
            continue
        new = numbers.setdefault(old, str(FIRST_ORDER_NUMBER + len(numbers)))
        if "order_id" in properties:
            properties["order_id"] = new
        if resource is not None and resource["type"] == "order":
            resource["id"] = new
        if "key" in record:
            record["key"] = record["key"].replace(old, new)


def simulate(seed: int, shoppers: int, start: datetime, days: int = 60) -> list[dict[str, Any]]:
    """Canonical event records of `shoppers` simulated shoppers, sorted by `occurred_at`.

    Shoppers first arrive over `days` days from `start` and visit only within that window; what
    happens to their orders afterwards (delivery, review) may fall after it, as it would in life:
    callers that show "history up to now" filter on `occurred_at`. The same seed gives the same
    records; each shopper draws from a generator seeded by the main one, so shopper n does not
    change when more shoppers are asked for.
    """
    errors = {name: [message] for name, wrong, message in (
        ("start", start.utcoffset() is None, "must be timezone-aware"),
        ("shoppers", shoppers < 0, "must not be negative"),
        ("days", days < 1, "must be at least 1"),
    ) if wrong}
    if errors:
        raise ValidationError("invalid simulation", errors)
    start, end = start.astimezone(UTC), start.astimezone(UTC) + timedelta(days=days)
    master = random.Random(seed)
    weights = [persona.weight for persona in PERSONAS]
    timed: list[tuple[datetime, int, dict[str, Any]]] = []
    for index in range(shoppers):
        rng = random.Random(master.getrandbits(64))
        persona = rng.choices(PERSONAS, weights)[0]
        hour = rng.choices(range(24), HOUR_WEIGHTS)[0]
        arrival = start + timedelta(days=rng.randrange(days), hours=hour,
                                    seconds=rng.randrange(3600))
        for at, record in _Shopper(index, persona, rng, arrival, end).run():
            timed.append((at, len(timed), record))
    timed.sort(key=lambda item: (item[0], item[1]))
    records = [record for _, _, record in timed]
    _number_orders(records)
    return records


def batches(records: Iterable[dict[str, Any]], size: int = 500) -> Iterator[list[dict[str, Any]]]:
    """Consecutive lists of at most `size` records: the API takes a bounded batch per request."""
    if size < 1:
        raise ValidationError("invalid batch size", {"size": ["must be at least 1"]})
    iterator = iter(records)
    while batch := list(islice(iterator, size)):
        yield batch


class UploadError(ParcoursError):
    """The events API could not be reached, or failed (5xx, or any other non-2xx answer)."""


def _server_error(response: requests.Response, sent: int) -> ParcoursError:
    """The error the server's answer stands for, with the server's own message."""
    try:  # the API answers {"error": {"message": ..., "fields": {...}}}
        error = response.json()["error"]
        message, fields = str(error["message"]), dict(error.get("fields") or {})
    except (ValueError, KeyError, TypeError):
        message, fields = response.text.strip()[:300] or response.reason or "no message", {}
    status = response.status_code
    text = f"HTTP {status} from {response.url}: {message}"
    if sent:
        text += f" ({sent} events were accepted before this batch)"
    if status in (401, 403):
        return AuthError(text)
    if status == 404:
        return NotFoundError(text)
    if status in (400, 413, 422):
        return ValidationError(text, fields)
    return UploadError(text)


def post_events(base_url: str, store: str, api_key: str, records: Iterable[dict[str, Any]],
                size: int = 500, timeout: float = 10.0) -> int:
    """POST the records to the store's events API in batches; return how many were sent.

    A 429 (the account's request rate) waits the answer's Retry-After, up to `MAX_WAITS` times
    a batch, and sends the same batch again. Otherwise stops at the first refused batch, raising
    AuthError (401/403), NotFoundError (404), ValidationError (400/413/422, with the server's
    field errors) or UploadError (anything else, or no answer). Redirects are not followed:
    requests would turn the POST into a GET.
    """
    url = f"{base_url.rstrip('/')}/api/v1/stores/{store}/events"
    sent = 0
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {api_key}"
        for batch in batches(records, size):
            for _ in range(MAX_WAITS + 1):
                try:
                    response = session.post(url, json={"events": batch}, timeout=timeout,
                                            allow_redirects=False)
                except requests.RequestException as exc:
                    raise UploadError(f"could not post events to {url}: {exc}") from exc
                if response.status_code != 429:
                    break
                time.sleep(_retry_after(response))
            if not 200 <= response.status_code < 300:
                raise _server_error(response, sent)
            sent += len(batch)
    return sent


MAX_WAITS = 5


def _retry_after(response: requests.Response) -> float:
    """The seconds a 429 asks to wait (1 when it does not say; at most 60)."""
    try:
        return min(60.0, max(0.0, float(response.headers.get("Retry-After", "1"))))
    except ValueError:
        return 1.0
