"""Webhook bodies name the member's language, so the store's e-mails can be written in it."""

from __future__ import annotations

import json

from jsonschema import Draft202012Validator, FormatChecker

from tests.graphql.conftest import Api
from tests.graphql.factories import create_program, enroll
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_webhooks import (
    EVENT_SCHEMA,
    api,
    create_endpoint,
    deliver_all,
    hook,
    worker,
)

__all__ = ["api", "hook"]

SETTINGS = """
mutation($input: UpdateProgramSettingsInput!) {
  updateProgramSettings(input: $input) { userErrors { code } }
}"""


async def test_the_member_locale_is_their_own_else_the_programs_default(
    api: Api, hook: Receiver
) -> None:
    await create_program(api)
    done = await api.data(SETTINGS, {"input": {"programSlug": "shop", "defaultLocale": "sv-SE"}})
    assert done["updateProgramSettings"]["userErrors"] == []
    await create_endpoint(api, hook.url, eventTypes=["member.enrolled"])
    await enroll(api, customer_id="cust-ru", locale="ru-RU")
    await enroll(api, customer_id="cust-none")
    sender = worker()
    try:
        await deliver_all(sender)
    finally:
        await sender.close()
    validator = Draft202012Validator(EVENT_SCHEMA, format_checker=FormatChecker())
    members = {}
    for got in hook.received:
        body = json.loads(got.body)
        assert [error.message for error in validator.iter_errors(body)] == []
        members[body["data"]["member"]["customerId"]] = body["data"]["member"]["locale"]
    assert members == {"cust-ru": "ru-RU", "cust-none": "sv-SE"}
    # The schema requires it of every member
    without = json.loads(hook.received[0].body)
    del without["data"]["member"]["locale"]
    assert list(validator.iter_errors(without))
