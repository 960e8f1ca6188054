"""Registers the adapters that ship with Parcours (imported on the registry's first use)."""

from parcours.adapters.base import register
from parcours.adapters.custom import CustomAdapter
from parcours.adapters.shopify import ShopifyAdapter
from parcours.adapters.woocommerce import WooCommerceAdapter

for _adapter in (ShopifyAdapter(), WooCommerceAdapter(), CustomAdapter()):
    register(_adapter)
