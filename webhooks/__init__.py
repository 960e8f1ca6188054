"""The HTTP receiver for platform webhooks: verify, dedupe, durable inbox, fast ack.

It knows adapters only through `parcours.adapters.base` and its registry.
"""

from parcours.webhooks.receiver import init_app

__all__ = ["init_app"]
