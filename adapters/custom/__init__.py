"""Custom shops and the SDK: canonical events, signed with the Standard Webhooks scheme."""

from parcours.adapters.custom.webhooks import CustomAdapter

__all__ = ["CustomAdapter"]
