"""Benchmarks of Parcours itself (`parcours bench ...`): numbers to check against its aims.

engine  events per second through the journey engine and its storage, against a bare bulk
        INSERT of the same rows (the storage limit), on SQLite and on PostgreSQL.
ingest  webhook acks per second and latency of the real receiver, against a bare 200 endpoint.
widgets bytes of the storefront scripts (raw, minified, gzip) against their budgets, and the
        Lighthouse performance score of the demo product page with and without Parcours.
"""
