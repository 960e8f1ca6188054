"""WooCommerce: webhook verification and normalizers (REST key flow, client, plugin to come).

Everything WooCommerce-specific lives in this package; the rest of Parcours sees it only through
the `PlatformAdapter` contract.
"""

from parcours.adapters.woocommerce.webhooks import WooCommerceAdapter

__all__ = ["WooCommerceAdapter"]
