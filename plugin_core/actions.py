"""Carry out what a delivery asks besides journey events: privacy requests, uninstall, facts,
and the contacts review requests go to.

Called by the inbox worker inside the transaction that marks the deliveries done, so a request is
carried out exactly when its delivery is, and never half.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import Connection

from parcours import tables as t
from parcours.adapters.base import (
    Action,
    OrderContact,
    PrivacyRequest,
    StorefrontFact,
    Uninstalled,
)
from parcours.db import upsert
from parcours.privacy import Subject, data_request, redact_customer, schedule_store_deletion
from parcours.recorder import StoreRef
from parcours.review_requests import save_contacts


def apply_actions(conn: Connection, store: StoreRef, actions: Iterable[Action], *,
                  now: datetime, uninstall_retention: timedelta) -> None:
    contacts: list[OrderContact] = []  # saved in bulk, in order with privacy requests
    for action in actions:
        if isinstance(action, OrderContact):
            contacts.append(action)
        elif isinstance(action, StorefrontFact):
            upsert(conn, t.store_facts, [{"store_id": store.id, "name": action.name,
                                          "value": action.value, "updated_at": action.updated_at}],
                   ["store_id", "name"], replace=["value", "updated_at"], newer="updated_at")
        elif isinstance(action, Uninstalled):
            schedule_store_deletion(conn, store.id, after=uninstall_retention, now=now,
                                    uninstalled=True)
        elif isinstance(action, PrivacyRequest):
            save_contacts(conn, store.id, contacts, now)
            contacts = []
            _privacy(conn, store, action, now)
    save_contacts(conn, store.id, contacts, now)


def _privacy(conn: Connection, store: StoreRef, request: PrivacyRequest, now: datetime) -> None:
    if request.kind == "redact_shop":
        schedule_store_deletion(conn, store.id, after=timedelta(0), now=now, uninstalled=False)
        return
    subject = Subject(customer_id=request.customer_id, email=request.email,
                      phone=request.phone, order_ids=request.order_ids)
    if request.kind == "data_request":
        data_request(conn, store, subject, reference=request.reference, now=now)
    else:
        redact_customer(conn, store, subject, reference=request.reference, now=now)
