"""The HTTP receiver for platform webhooks: verify, dedupe, durable inbox, fast ack.

Filled by the webhook ingestion issue; it knows adapters only through `parcours.adapters.base`.
"""
