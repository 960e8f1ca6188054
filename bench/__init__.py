"""Benchmarks of Parcours itself (`parcours bench ...`): numbers to check against its aims.

engine  events per second through the journey engine and its storage, against a bare bulk
        INSERT of the same rows (the storage limit), on SQLite and on PostgreSQL.
"""
