"""WooCommerce adapter (key flow, REST client, webhooks, WordPress plugin)."""
