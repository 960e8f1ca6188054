"""Segments (device, channel, country): what each source's raw values map to, and that no input
makes them raise (they read headers, query strings and webhook fields)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parcours import friction
from parcours.errors import ValidationError
from parcours.events import JourneyEvent, load_event
from parcours.segments import (
    CHANNELS,
    DEVICES,
    arrival_channel,
    channel_of,
    country_of,
    device_of,
    utm_of,
    with_segments,
)

# Real User-Agent strings of current browsers and of the tools /collect already turns away.
AGENTS = {
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.5 Mobile/15E148 Safari/604.1": "mobile",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36": "mobile",
    "Mozilla/5.0 (Android 14; Mobile; rv:127.0) Gecko/127.0 Firefox/127.0": "mobile",
    "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1": "tablet",
    "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36": "tablet",  # Android without "Mobile": a tablet
    "Mozilla/5.0 (Android 14; Tablet; rv:127.0) Gecko/127.0 Firefox/127.0": "tablet",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0": "desktop",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15": "desktop",  # also what iPadOS Safari says by default
    "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0": "desktop",
    "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36": "desktop",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)": None,
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/126.0.0.0 Safari/537.36": None,
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)": None,
    "curl/8.8.0": None,  # a tool: no evidence of any device
    "python-requests/2.32.3": None,
    "": None,
    "   ": None,
}


@pytest.mark.parametrize("agent, device", AGENTS.items())
def test_device_of_user_agents(agent: str, device: str | None) -> None:
    assert device_of(agent) == device


def test_device_of_nothing_is_unknown() -> None:
    assert device_of(None) is None


def test_devices_are_the_ones_friction_rules_compare() -> None:
    assert set(DEVICES) == set(friction.DEVICES)


SHOP = "shop.example"


@pytest.mark.parametrize("referrer, source, medium, channel", [
    # no campaign: the referrer decides
    (None, None, None, "direct"),
    ("", "", "", "direct"),
    ("https://shop.example/collections/all", None, None, "direct"),  # the store itself
    ("https://www.shop.example/", None, None, "direct"),
    ("https://checkout.shop.example/", None, None, "direct"),  # a subdomain of the store
    ("https://www.paypal.com/checkoutnow", None, None, "direct"),  # back from paying
    ("https://www.google.com/", None, None, "organic_search"),
    ("https://www.google.co.uk/search?q=tea", None, None, "organic_search"),
    ("https://duckduckgo.com/", None, None, "organic_search"),
    ("https://search.brave.com/search?q=tea", None, None, "organic_search"),
    ("https://google.blog.example/tea", None, None, "referral"),  # not Google's
    ("https://www.googleadservices.com/pagead/aclk", None, None, "paid_search"),
    ("https://l.facebook.com/l.php?u=x", None, None, "social"),
    ("https://t.co/AbC", None, None, "social"),
    ("https://www.reddit.com/r/tea/", None, None, "social"),
    ("https://mail.google.com/", None, None, "email"),
    ("android-app://com.google.android.gm/", None, None, "email"),
    ("https://blog.example.org/best-teas", None, None, "referral"),
    ("not a url at all", None, None, "direct"),
    ("https://[::1", None, None, "direct"),  # unparsable: no referrer
    # campaigns
    (None, "google", "cpc", "paid_search"),
    (None, "bing", "ppc", "paid_search"),
    ("https://www.google.com/", "spring", "paid", "paid_search"),
    (None, "facebook", "paid_social", "paid_other"),
    (None, "criteo", "retargeting", "paid_other"),
    (None, "partner", "cpa", "paid_other"),
    (None, "newsletter", None, "email"),
    (None, "klaviyo", "flow", "email"),
    (None, "spring", "E-mail", "email"),
    (None, "Facebook", None, "social"),
    (None, "ig", "story", "social"),
    (None, "l.facebook.com", "referral", "social"),  # WooCommerce's referral source
    (None, "partner", "social-network", "social"),
    (None, "google", "organic", "organic_search"),
    (None, "bing", None, "organic_search"),
    (None, "partner", "affiliate", "referral"),
    (None, "spring-x-sale", None, "referral"),  # "x" inside a name is not X, the network
    (None, "fb_ads", "feed", "social"),
    (None, "(direct)", "(none)", "direct"),  # WooCommerce's typed-in visit
])
def test_channel_of(referrer: Any, source: Any, medium: Any, channel: str) -> None:
    assert channel_of(referrer, source, medium, SHOP) == channel


def test_the_store_may_have_several_hosts_given_as_urls() -> None:
    hosts = ["shop.example", "https://shop-1.myshopify.com/123/orders/abc"]
    assert channel_of("https://shop-1.myshopify.com/cart", None, None, hosts) == "direct"
    assert channel_of("https://shop-2.myshopify.com/", None, None, hosts) == "referral"
    assert channel_of("https://shop.example/", None, None, None) == "referral"  # unknown own


def test_arrival_channel_says_nothing_for_a_step_inside_the_store() -> None:
    assert arrival_channel("https://shop.example/products/tea", None, None, {SHOP}) is None
    assert arrival_channel("https://www.paypal.com/", None, None, {SHOP}) is None
    assert arrival_channel("", None, None, {SHOP}) == "direct"  # typed in, or a bookmark
    assert arrival_channel("https://shop.example/", "newsletter", "email", {SHOP}) == "email"
    assert arrival_channel("https://www.google.com/", None, None, set()) == "organic_search"


def test_utm_of() -> None:
    assert utm_of("/products/tea?utm_source=news&utm_medium=e%2Dmail&x=1") == ("news", "e-mail")
    assert utm_of("https://shop.example/?utm_medium=cpc") == (None, "cpc")
    assert utm_of("/products/tea") == (None, None)
    assert utm_of(None) == (None, None)
    assert utm_of("http://[::1/?utm_source=x") == (None, None)


@pytest.mark.parametrize("value, country", [
    ("FR", "FR"), ("fr", "FR"), (" de ", "DE"), ("GB", "GB"), ("XK", "XK"),
    ("UK", None), ("XX", None), ("FRA", None), ("", None), (None, None), (33, None),
    (["FR"], None),
])
def test_country_of(value: Any, country: str | None) -> None:
    assert country_of(value) == country


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=8)
URLISH = st.one_of(st.text(), st.from_regex(r"[a-z]{0,6}://[\[\]a-z0-9.:@%-]{0,20}/?[?#&=a-z]*"),
                   JSON)


@given(URLISH)
def test_device_of_never_raises(value: Any) -> None:
    assert device_of(value) in (*DEVICES, None)


@given(URLISH, URLISH, URLISH, st.one_of(st.none(), st.text(), st.lists(st.text(), max_size=3)))
def test_channel_of_never_raises(referrer: Any, source: Any, medium: Any, own: Any) -> None:
    assert channel_of(referrer, source, medium, own) in CHANNELS
    assert arrival_channel(referrer, source, medium, own) in (*CHANNELS, None)


@given(URLISH)
def test_country_of_and_utm_of_never_raise(value: Any) -> None:
    country = country_of(value)
    assert country is None or (len(country) == 2 and country.isupper())
    source, medium = utm_of(value)
    assert source is None or isinstance(source, str)
    assert medium is None or isinstance(medium, str)


# -- storefront events ---------------------------------------------------------------------------

PHONE = next(agent for agent, device in AGENTS.items() if device == "mobile")
AT = datetime(2026, 11, 2, 10, tzinfo=UTC)


def beacon(name: str, **properties: Any) -> JourneyEvent:
    return load_event("shop", {"name": name, "occurred_at": AT.isoformat(),
                               "identities": {"anonymous_id": "a"}, "properties": properties})


def test_with_segments_adds_the_device_and_page_views_channels() -> None:
    events = [beacon("page_viewed", path="/", referrer="https://www.google.com/",
                     utm_source=None, utm_medium=None),
              beacon("page_viewed", path="/tea", referrer="https://shop.example/"),
              beacon("page_viewed", path="/", referrer="https://shop.example/",
                     utm_source="newsletter", utm_medium="email"),
              beacon("product_viewed", referrer="https://www.google.com/"),  # not a page view
              beacon("widget_shown", widget="express_pay", device="desktop")]  # keeps its own
    out = with_segments(events, PHONE, {SHOP})
    assert [dict(e.properties) for e in out] == [
        {**events[0].properties, "device": "mobile", "channel": "organic_search"},
        {**events[1].properties, "device": "mobile"},  # a step inside the store
        {**events[2].properties, "device": "mobile", "channel": "email"},
        {**events[3].properties, "device": "mobile"},
        dict(events[4].properties),
    ]
    assert out[4] is events[4]
    assert all(load_event("shop", e.to_dict()) == e for e in out)  # still schema-valid
    assert with_segments(events, None, {SHOP})[1] is events[1]  # no agent, no channel: as is


def test_the_schema_admits_only_known_segments() -> None:
    assert beacon("page_viewed", device="tablet", channel="social",
                  country="fr").properties == {"device": "tablet", "channel": "social",
                                               "country": "FR"}
    for bad in ({"device": "phone"}, {"channel": "tv"}, {"country": "France"},
                {"country": None}):
        with pytest.raises(ValidationError, match="invalid event") as error:
            beacon("page_viewed", **bad)
        assert set(error.value.errors["properties"]) == set(bad)
