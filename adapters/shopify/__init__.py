"""Shopify adapter (OAuth, GraphQL client, webhooks, normalizers, extensions): the Shopify issue."""
