"""A program's cold configuration is cached per process while its version is unchanged, and no
order recorded after a change is acknowledged, by this process or any other, sees the old one.

The version is raised by database triggers (migration 0028), so a change made behind the
services' back (another process, the CLI, hand-written SQL) invalidates as well as one made
through them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from app.db import connection, execute, fetch_one, utc_now
from app.domain.earning import RuleKind
from app.services.core.config_cache import cached, reading_config
from app.services.members.enrolment import EnrollMemberInput, enroll_member
from app.services.orders.cart import OrderLineInput
from app.services.orders.earning_rules import (
    RuleInput,
    create_earning_rule,
    set_earning_rule_paused,
    update_earning_rule,
)
from app.services.orders.service import RecordOrderInput, record_order
from app.services.programs.service import CreateProgramInput, create_program

RULES_READ = "FROM earning_rules WHERE program_id = "


class _Statements(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(record.getMessage())


@contextmanager
def statements() -> Iterator[_Statements]:
    logger = logging.getLogger("tortoise.db_client")
    handler = _Statements()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


async def _shop() -> int:
    program = await create_program(
        CreateProgramInput(slug="shop", name="Shop", currency="EUR", points_per_currency_unit=1)
    )
    await enroll_member(EnrollMemberInput(program_slug="shop", customer_id="c1"), None)
    return program.id


async def _order(order_id: str) -> int:
    recorded = await record_order(
        RecordOrderInput(
            program_slug="shop",
            customer_id="c1",
            order_id=order_id,
            currency="EUR",
            total_minor=2000,
            lines=[OrderLineInput(sku="SKU-1", quantity=2, unit_price_minor=1000)],
            placed_at=utc_now() - timedelta(hours=1),
        ),
        None,
    )
    return recorded.order.points_earned


async def _version(program_id: int) -> int:
    row = await fetch_one(
        connection(), "SELECT config_version FROM programs WHERE id = ?", (program_id,)
    )
    assert row is not None
    return int(row["config_version"])


def _bonus(points: int) -> RuleInput:
    return RuleInput(
        name="SKU bonus", kind=RuleKind.BONUS_PER_UNIT, points=points, include_skus=("SKU-1",)
    )


async def test_a_second_order_reads_no_rule_and_a_rule_change_applies_to_the_next_order(
    db: None,
) -> None:
    await _shop()
    rule = await create_earning_rule("shop", _bonus(5))
    assert await _order("o1") == 20 + 2 * 5

    with statements() as warm:
        assert await _order("o2") == 20 + 2 * 5
    await update_earning_rule(rule.id, _bonus(7))
    with statements() as changed:
        after_update = await _order("o3")
    await set_earning_rule_paused(rule.id, True)
    after_pause = await _order("o4")

    assert not [text for text in warm.texts if RULES_READ in text]
    assert len([text for text in changed.texts if RULES_READ in text]) == 1
    assert after_update == 20 + 2 * 7
    assert after_pause == 20


async def test_a_rule_changed_by_another_process_applies_to_the_next_order(db: None) -> None:
    program_id = await _shop()
    rule = await create_earning_rule("shop", _bonus(5))
    assert await _order("o1") == 30
    assert await _order("o2") == 30  # served from the cache
    before = await _version(program_id)

    # Another process (or hand-written SQL) changes the rule: this process is not told.
    await execute(connection(), "UPDATE earning_rules SET points = ? WHERE id = ?", (9, rule.id))

    assert await _version(program_id) == before + 1
    assert await _order("o3") == 20 + 2 * 9


async def test_the_triggers_raise_the_version_on_configuration_changes_only(db: None) -> None:
    program_id = await _shop()
    start = await _version(program_id)
    rule = await create_earning_rule("shop", _bonus(5))
    after_insert = await _version(program_id)
    await _order("o1")  # an order changes no configuration
    after_order = await _version(program_id)
    await execute(connection(), "DELETE FROM earning_rules WHERE id = ?", (rule.id,))
    after_delete = await _version(program_id)
    await execute(connection(), "UPDATE programs SET name = ? WHERE id = ?", ("Shop 2", program_id))
    after_rename = await _version(program_id)
    await execute(
        connection(), "UPDATE programs SET time_zone = ? WHERE id = ?", ("Europe/Paris", program_id)
    )
    after_zone = await _version(program_id)

    assert after_insert > start
    assert after_order == after_insert
    assert after_delete == after_insert + 1
    assert after_rename == after_delete
    assert after_zone == after_delete + 1


async def test_a_value_is_cached_only_where_the_version_was_read(db: None) -> None:
    program_id = await _shop()
    loads: list[int] = []

    async def load() -> int:
        loads.append(1)
        return len(loads)

    outside = [await cached("test", program_id, load), await cached("test", program_id, load)]
    with reading_config(program_id, 3):
        same_version = [await cached("test", program_id, load) for _ in range(2)]
        other_program = await cached("test", program_id + 1, load)
    with reading_config(program_id, 4):
        newer = [await cached("test", program_id, load) for _ in range(2)]

    assert outside == [1, 2]
    assert same_version == [3, 3]
    assert other_program == 4
    assert newer == [5, 5]
