"""The process's database client, inside and outside transactions."""

from __future__ import annotations

from tortoise.backends.base.client import BaseDBAsyncClient, TransactionalDBClient
from tortoise.connection import connections


def connection() -> BaseDBAsyncClient:
    client: BaseDBAsyncClient = connections.get("default")
    return client


def database_client() -> BaseDBAsyncClient:
    """The process's client of the database itself, the same object inside and outside
    transactions (`connection()` inside one is the transaction's): a new one means Tortoise
    was set up again, maybe on another database."""
    client = connection()
    while isinstance(client, TransactionalDBClient):
        client = client._parent
    return client
