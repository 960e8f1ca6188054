"""A store's widget settings as a file: validated whole, then written as store facts.

What a merchant, an agency or a custom shop's developer sets (`parcours widgets set STORE
FILE`, JSON or TOML): which widgets on which pages, experiments (holdout share, salt), the
widgets' language, whether shoppers must consent first. A custom shop also describes what a
platform would otherwise tell Parcours: its currency, storefront paths, shipping zones, whether
guests may check out, the wallets it offers. For a Shopify or WooCommerce store those come from the
platform and are refused here, naming where to change them.

Nothing is written unless the whole file is valid; errors name the key path.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from marshmallow import Schema, fields, validate
from marshmallow import ValidationError as SchemaError

from parcours.errors import ValidationError
from parcours.settings_files import read_settings_file
from parcours.widgets.config import DEFAULT_STOREFRONT, DEFAULT_WIDGETS, LANGUAGES

__all__ = ["PLATFORM_KEYS", "check_settings", "load_settings", "settings_facts"]

PAGE_TYPES = ("product", "cart", "checkout", "collection", "other")
WALLETS = ("apple_pay", "google_pay", "shop_pay", "shopify_pay")
PLATFORM_KEYS = ("currency", "storefront", "shipping_zones", "guest_checkout", "wallets")
_MONEY = validate.Regexp(r"^\d{1,9}(\.\d{1,2})?$", error="an amount such as 4.90")


class _Widget(Schema):
    enabled = fields.Bool()
    pages = fields.List(fields.Str(validate=validate.OneOf(PAGE_TYPES)),
                        validate=validate.Length(min=1))
    holdout = fields.Float(validate=validate.Range(0, 1))
    salt = fields.Str(validate=validate.Length(1, 64))
    per_page = fields.Int(validate=validate.Range(1, 20))


class _Rate(Schema):
    name = fields.Str(required=True, validate=validate.Length(1, 100))
    price = fields.Str(required=True, validate=_MONEY)
    currency = fields.Str(required=True, validate=validate.Regexp(r"^[A-Z]{3}$"))
    min_subtotal = fields.Str(validate=_MONEY, allow_none=True)
    max_subtotal = fields.Str(validate=_MONEY, allow_none=True)


class _Country(Schema):
    code = fields.Str(required=True, validate=validate.Regexp(r"^([A-Z]{2}|\*)$"))
    provinces = fields.List(fields.Str(validate=validate.Length(1, 10)), load_default=list)


class _Zone(Schema):
    name = fields.Str(required=True, validate=validate.Length(1, 100))
    countries = fields.List(fields.Nested(_Country), required=True,
                            validate=validate.Length(min=1))
    postcodes = fields.List(fields.Str(validate=validate.Length(1, 32)))
    rates = fields.List(fields.Nested(_Rate), required=True)


class _Settings(Schema):
    widgets = fields.Dict(keys=fields.Str(validate=validate.OneOf(list(DEFAULT_WIDGETS))),
                          values=fields.Nested(_Widget))
    lang = fields.Str(validate=validate.OneOf(LANGUAGES), allow_none=True)
    consent_required = fields.Bool()
    currency = fields.Str(validate=validate.Regexp(r"^[A-Z]{3}$", error="an ISO 4217 code"))
    storefront = fields.Dict(keys=fields.Str(validate=validate.OneOf(list(DEFAULT_STOREFRONT))),
                             values=fields.Raw(allow_none=True))
    shipping_zones = fields.List(fields.Nested(_Zone))
    guest_checkout = fields.Bool()
    wallets = fields.List(fields.Str(validate=validate.OneOf(WALLETS)))


_SCHEMA = _Settings()


def load_settings(path: Path) -> dict[str, Any]:
    """The settings in `path` (.json or .toml), validated; ValidationError naming the file and
    every bad key."""
    return check_settings(read_settings_file(path), f"invalid settings in {path}")


def check_settings(raw: Mapping[str, Any], message: str = "invalid settings") -> dict[str, Any]:
    """Settings from any source (a file, the dashboard's form), validated whole the same way;
    ValidationError(`message`) naming every bad key."""
    try:
        return dict(_SCHEMA.load(dict(raw)))
    except SchemaError as exc:
        raise ValidationError(message, exc.normalized_messages()) from None


def settings_facts(settings: Mapping[str, Any], platform: str) -> dict[str, Any]:
    """The store facts the settings set. What the platform tells Parcours is refused for
    platform stores (it would be overwritten at the next sync anyway)."""
    owned = [key for key in PLATFORM_KEYS if key in settings]
    if platform != "custom" and owned:
        raise ValidationError(f"these settings come from {platform}: change them there",
                              {key: [f"set by {platform}"] for key in owned})
    facts: dict[str, Any] = {}
    if "widgets" in settings:
        facts["widgets"] = settings["widgets"]
    if "lang" in settings:
        facts["widget_lang"] = settings["lang"]
    if "consent_required" in settings:
        facts["consent"] = {"required": settings["consent_required"]}
    if "currency" in settings:
        facts["shop"] = {"currency": settings["currency"]}
    if "storefront" in settings:
        facts["storefront"] = settings["storefront"]
    if "shipping_zones" in settings:
        facts["shipping_zones"] = settings["shipping_zones"]
    if "guest_checkout" in settings:
        facts["customer_accounts"] = {"login_required_at_checkout": not settings[
            "guest_checkout"]}
    if "wallets" in settings:
        facts["accelerated_checkout"] = {"wallets": settings["wallets"]}
    return facts
