from tortoise import Tortoise
from tortoise.connection import connections
from tortoise.transactions import in_transaction

from app import db as app_db
from app.config import Settings


async def test_fails_inside_transaction(db: None) -> None:
    async with in_transaction() as txn:
        await txn.execute_query("SELECT 1")
        raise RuntimeError("boom")


async def test_leaks_own_init(settings: Settings) -> None:
    await app_db.init_db(settings)
    await connections.get("default").execute_query("SELECT 1")
    raise AssertionError("left Tortoise open")
