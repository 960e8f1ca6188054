"""Segments: the shopper's device, the channel they came by, and their country.

Merchants compare funnels by segment (mobile against desktop, paid against organic, one country
against another), so events may carry the properties `device`, `channel` and `country`
(docs/events.md, "Segments") and each journey keeps them (journey.py). Sources know different
things: a browser beacon has a User-Agent and a referrer, an order webhook has the checkout's
user agent, landing page and addresses. The functions here turn each into one small vocabulary.
Their inputs come from outside (headers, query strings, webhook fields), so they never raise:
what they cannot read is None, "unknown" in reports.

Pure: no Flask, no SQLAlchemy, no HTTP.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

if TYPE_CHECKING:  # events.py validates these properties with this module
    from parcours.events import JourneyEvent

__all__ = ["BOTS", "CHANNELS", "DEVICES", "arrival_channel", "channel_of", "country_of",
           "device_of", "utm_of", "with_segments"]

DEVICES = ("mobile", "tablet", "desktop")
# direct: no referrer, or the store itself; organic_search: a search engine's results;
# paid_search: a search engine's ads; social: a social network (paid or not: most stores'
# social traffic is their own posts); email: a mailing or a webmail; referral: any other site;
# paid_other: other paid campaigns (display, retargeting, paid social, affiliates' cpa).
CHANNELS = ("direct", "organic_search", "paid_search", "social", "email", "referral",
            "paid_other")

# Crawlers and headless tools that run pages' scripts: their visits are not shoppers'.
BOTS = re.compile(r"bot\b|crawler|spider|slurp|headlesschrome|lighthouse|pagespeed|"
                  r"facebookexternalhit|preview", re.IGNORECASE)
_MAX_AGENT = 512  # the part of a User-Agent worth reading; a longer one is noise or an attack
# iPadOS Safari says it is a Mac ("request desktop website" is its default): it counts as a
# desktop, as for every server-side reader. A Windows "Tablet PC" is a desktop too.
_TABLET = re.compile(r"ipad|tablet(?! pc)|kindle|silk/|playbook|nexus (?:7|9|10)\b|\bsm-t\d",
                     re.IGNORECASE)
_MOBILE = re.compile(r"mobi|iphone|ipod|android|blackberry|bb10|opera mini|windows phone|"
                     r"iemobile|webos", re.IGNORECASE)
# A desktop only with evidence of a desktop system: scripts (curl, python-requests) are unknown.
_DESKTOP = re.compile(r"windows nt|macintosh|mac os x|x11|linux|cros", re.IGNORECASE)


def device_of(user_agent: object) -> str | None:
    """"mobile", "tablet" or "desktop" from a User-Agent; None when empty, a bot or a tool."""
    if not isinstance(user_agent, str):
        return None
    agent = user_agent[:_MAX_AGENT]
    if not agent.strip() or BOTS.search(agent):
        return None
    lower = agent.lower()
    # Android phones say "Mobile"; Android tablets do not (Google's guidance to browsers).
    if _TABLET.search(agent) or ("android" in lower and "mobile" not in lower):
        return "tablet"
    if _MOBILE.search(agent):
        return "mobile"
    return "desktop" if _DESKTOP.search(agent) else None


# -- channels ------------------------------------------------------------------------------------

# Names matched as a label of the host followed only by public-suffix-like labels
# ("www.google.co.uk", "l.facebook.com", but not "google.myblog.com").
_SEARCH = frozenset({"google", "bing", "yahoo", "duckduckgo", "baidu", "yandex", "ecosia",
                     "qwant", "startpage", "naver", "seznam", "aol", "brave", "ya"})
_SOCIAL = frozenset({"facebook", "instagram", "twitter", "linkedin", "pinterest", "tiktok",
                     "youtube", "reddit", "snapchat", "tumblr", "whatsapp", "telegram",
                     "threads", "discord", "quora", "mastodon", "bsky"})
_SOCIAL_HOSTS = frozenset({"t.co", "x.com", "fb.com", "fb.me", "m.me", "wa.me", "t.me",
                           "pin.it", "lnkd.in", "youtu.be", "vk.com"})
_WEBMAIL_HOSTS = frozenset({"mail.google.com", "outlook.live.com", "outlook.office.com",
                            "outlook.office365.com", "mail.yahoo.com", "mail.aol.com",
                            "com.google.android.gm"})  # the last: the Gmail app's referrer
# Payment pages the shopper comes back from: part of the checkout, not where they came from.
_PAYMENT = frozenset({"paypal", "stripe", "klarna", "adyen", "mollie", "afterpay", "clearpay",
                      "affirm", "sezzle", "shopify"})
_PAYMENT_HOSTS = frozenset({"shop.app"})
# utm_source values (or their words: "facebook_ads", "Google Ads") that name a site.
_SEARCH_SOURCES = _SEARCH | {"adwords", "googleads"}
_SOCIAL_SOURCES = _SOCIAL | {"fb", "ig", "meta", "x", "vk"}
_EMAIL_WORDS = frozenset({"email", "mail", "newsletter", "klaviyo", "mailchimp", "brevo",
                          "sendinblue", "omnisend"})
_SOCIAL_MEDIUMS = frozenset({"social", "socialnetwork", "socialmedia", "sm"})
# Google Analytics' definition of a paid medium (cpc, ppc, cpm, cpa, paid_*, retargeting),
# with display and banner campaigns.
_PAID_MEDIUM = re.compile(r"cp|ppc|retargeting|^paid|display|banner|interstitial")
_NOT_SET = frozenset({"", "(direct)", "(none)", "(not set)", "none", "direct"})
_HOST = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)+")


def _host(url: object) -> str:
    """The bare host of a URL ("https://www.google.com/x" -> "google.com"); "" when none."""
    if not isinstance(url, str) or not url.strip():
        return ""
    text = url.strip()
    if "//" not in text:  # "google.com/search": a host without its scheme
        text = "//" + text
    try:
        host = (urlsplit(text[:2048]).hostname or "").rstrip(".")
    except ValueError:  # an unclosed IPv6 bracket, a bad port
        return ""
    return _bare(host) if _HOST.fullmatch(host) else ""


def _bare(host: str) -> str:
    host = host.strip().lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host


def _named(host: str, names: frozenset[str]) -> bool:
    labels = host.split(".")
    return any(label in names and all(len(rest) <= 3 for rest in labels[i + 1:])
               for i, label in enumerate(labels[:-1]))


def _says(value: str, names: frozenset[str]) -> bool:
    """Whether a utm value names one of `names`: as a whole ("e-mail"), by its first word
    ("fb_ads", "Google Ads"), or by a longer word anywhere ("spring_facebook"; a short one
    such as "x" or "ig" would match by chance)."""
    words = [word for word in re.split(r"[^a-z0-9]+", value) if word]
    return bool(words) and ("".join(words) in names or words[0] in names
                            or any(len(word) >= 4 and word in names for word in words))


def _own(host: str, own_host: str | Collection[str] | None) -> bool:
    owners = [own_host] if isinstance(own_host, str) else list(own_host or ())
    for owner in owners:
        bare = _host(owner)
        if bare and (host == bare or host.endswith("." + bare)):
            return True
    return False


def _internal(host: str, own_host: str | Collection[str] | None) -> bool:
    """The store itself or a payment page of its checkout."""
    return _own(host, own_host) or host in _PAYMENT_HOSTS or _named(host, _PAYMENT)


def _utm(value: object) -> str:
    text = value.strip().lower()[:200] if isinstance(value, str) else ""
    return "" if text in _NOT_SET else text


def utm_of(url: object) -> tuple[str | None, str | None]:
    """utm_source and utm_medium of a URL or a path ("/?utm_source=x&utm_medium=email")."""
    if not isinstance(url, str):
        return None, None
    try:
        query = dict(parse_qsl(urlsplit(url[:2048]).query))
    except ValueError:
        return None, None
    return query.get("utm_source"), query.get("utm_medium")


def channel_of(referrer: object, utm_source: object, utm_medium: object,
               own_host: str | Collection[str] | None = None) -> str:
    """The channel (one of CHANNELS) of a visit, from its referrer URL and its utm_source and
    utm_medium; `own_host` is the store's host or URL (or several: a domain and its
    .myshopify.com one), whose subdomains are the store's too.

    A campaign (utm values) says more than the referrer: a paid medium is paid_search when the
    source or referrer is a search engine, else paid_other; then email, social, organic search
    (a search source or medium "organic"), and any other campaign is a referral. Without one,
    the referrer decides: none, the store itself or a payment page -> direct; a webmail ->
    email; a social network -> social; a search engine -> organic_search (its ad-click hosts
    -> paid); any other site -> referral. "(direct)" and "(none)" (WooCommerce's words for a
    typed-in visit) are no campaign.
    """
    host, source, medium = _host(referrer), _utm(utm_source), _utm(utm_medium)
    if source or medium:
        source_host = _host(source) if "." in source else ""
        search = (_says(source, _SEARCH_SOURCES) or _named(source_host, _SEARCH)
                  or _named(host, _SEARCH))
        if _PAID_MEDIUM.search(medium):
            return "paid_search" if search else "paid_other"
        if _says(source, _EMAIL_WORDS) or _says(medium, _EMAIL_WORDS):
            return "email"
        if (_says(source, _SOCIAL_SOURCES) or _says(medium, _SOCIAL_MEDIUMS)
                or _social(source_host) or _social(host)):
            return "social"
        return "organic_search" if search or medium == "organic" else "referral"
    if not host or _internal(host, own_host):
        return "direct"
    if "googleadservices" in host:
        return "paid_search"
    if "doubleclick" in host:
        return "paid_other"
    if host in _WEBMAIL_HOSTS or host.startswith(("mail.", "webmail.")):
        return "email"
    if _social(host):
        return "social"
    return "organic_search" if _named(host, _SEARCH) else "referral"


def _social(host: str) -> bool:
    return bool(host) and (host in _SOCIAL_HOSTS or _named(host, _SOCIAL))


def arrival_channel(referrer: object, utm_source: object, utm_medium: object,
                    own_host: str | Collection[str] | None) -> str | None:
    """The channel a storefront page view tells, or None when it is a step inside the store
    (the referrer is the store or its payment page, and no campaign): such a step says nothing
    of how the shopper came, and a journey takes its channel from its first event that has
    one, so the thank-you page must not give the shopper's next journey "direct"."""
    host = _host(referrer)
    if host and not (_utm(utm_source) or _utm(utm_medium)) and _internal(host, own_host):
        return None
    return channel_of(referrer, utm_source, utm_medium, own_host)


# -- countries -----------------------------------------------------------------------------------

# ISO 3166-1 alpha-2, the assigned codes, and XK (Kosovo), which Shopify and WooCommerce use.
_COUNTRY_CODES = """
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS
BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE
EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM
HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC
LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA
NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW
SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO
TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS XK YE YT ZA ZM ZW
"""
_COUNTRIES = frozenset(_COUNTRY_CODES.split())


def country_of(value: object) -> str | None:
    """An ISO 3166-1 alpha-2 code, upper-cased ("fr" -> "FR"); None for anything else."""
    if not isinstance(value, str):
        return None
    code = value.strip().upper()
    return code if code in _COUNTRIES else None


# -- storefront events ---------------------------------------------------------------------------

def with_segments(events: Iterable[JourneyEvent], user_agent: str | None,
                  own_hosts: Collection[str]) -> list[JourneyEvent]:
    """Storefront events (`/collect`) with the segments their request tells: `device` from the
    User-Agent on every event that has none, and `channel` on page views, from their
    `referrer`, `utm_source` and `utm_medium` properties (see `arrival_channel`)."""
    device = device_of(user_agent)
    out = []
    for event in events:
        properties = dict(event.properties)
        if device is not None and "device" not in properties:
            properties["device"] = device
        if event.name == "page_viewed" and "channel" not in properties:
            channel = arrival_channel(properties.get("referrer"), properties.get("utm_source"),
                                      properties.get("utm_medium"), own_hosts)
            if channel is not None:
                properties["channel"] = channel
        changed = properties != event.properties
        out.append(replace(event, properties=properties) if changed else event)
    return out
