"""WooCommerce: key-approval connect, REST client, webhooks that heal, settings, WordPress plugin.

Everything WooCommerce-specific lives in this package; the rest of Parcours sees it only through
the `PlatformAdapter` contract.
"""

from parcours.adapters.woocommerce.webhooks import WooCommerceAdapter

__all__ = ["WooCommerceAdapter"]
