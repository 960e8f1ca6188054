"""Custom-shop adapter: canonical events signed with the Standard Webhooks scheme."""
