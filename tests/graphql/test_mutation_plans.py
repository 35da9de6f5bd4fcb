"""Planned mutations (WritePlan in app/graphql/compiled.py): Strawberry's answer, and the write
made once, whatever happens after it.

A toy schema pins down each way a mutation's answer can go (the payload completed by the plan,
the resolver raising, the payload failing after the write, variables that do not coerce); the
API tests compare recordOrder's planned answers with an app without plans on the same database,
on both databases, and count the service's runs.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import strawberry
from graphql import GraphQLSchema

from app.graphql.compiled import GiveUpError, WritePlan, plan_document
from app.graphql.encoding import encode_answer
from app.graphql.executor_adapter import graphql_schema
from app.graphql.plan_cache import PlanCache
from app.services.orders import service as orders_service
from tests.graphql.conftest import Api, _comparable
from tests.graphql.factories import RECORD_ORDER, create_program, enroll, order_input

# --- a toy schema: one counter per write --------------------------------------------------------

WRITES: list[str] = []


@strawberry.input
class NoteInput:
    text: str
    tags: list[str] = strawberry.field(default_factory=list)
    weight: int | None = None


@strawberry.type
class Note:
    text: str
    tags: list[str]
    weight: int | None

    @strawberry.field
    async def shout(self) -> str:
        return self.text.upper()

    @strawberry.field
    async def fragile(self) -> str:
        raise ValueError("the payload failed after the write")

    @strawberry.field
    def absent(self) -> str:
        return None  # type: ignore[return-value]


@strawberry.type
class ToyQuery:
    @strawberry.field
    def writes(self) -> int:
        return len(WRITES)


@strawberry.type
class ToyMutation:
    @strawberry.mutation
    async def write_note(self, input: NoteInput) -> Note:
        WRITES.append(input.text)
        if input.text == "raise":
            raise RuntimeError("the resolver failed")
        return Note(text=input.text, tags=input.tags, weight=input.weight)


toy = strawberry.Schema(query=ToyQuery, mutation=ToyMutation)
TOY: GraphQLSchema = graphql_schema(toy)

WRITE = """mutation($input: NoteInput!) {
  writeNote(input: $input) { text tags weight shout __typename }
}"""


@pytest.fixture(autouse=True)
def _no_writes_yet() -> None:
    WRITES.clear()


def _write_plan(query: str) -> WritePlan:
    plan = plan_document(TOY, query, None, toy)
    assert isinstance(plan, WritePlan), "the document should have a write plan"
    return plan


async def _strawberry_answer(query: str, variables: dict[str, Any]) -> bytes:
    result = await toy.execute(query, variable_values=variables)
    body: dict[str, Any] = {"data": result.data}
    if result.errors:
        body["errors"] = [error.formatted for error in result.errors]
    return encode_answer(body)


async def _both(query: str, variables: dict[str, Any]) -> tuple[bytes, bytes, list[str]]:
    """Strawberry's answer and the plan's, and the writes the plan made."""
    expected = await _strawberry_answer(query, variables)
    WRITES.clear()
    answer = await _write_plan(query).answer(toy, variables, context=None)
    return expected, answer, list(WRITES)


@pytest.mark.parametrize(
    "query",
    [
        WRITE,
        # An alias, a payload field with arguments left out, a literal input.
        'mutation { w: writeNote(input: {text: "lit", weight: 3}) { t: text weight } }',
        # The payload fails after the write: graphql-core completes what the resolver returned.
        "mutation($input: NoteInput!) { writeNote(input: $input) { text fragile } }",
        "mutation($input: NoteInput!) { writeNote(input: $input) { text absent } }",
    ],
)
async def test_a_planned_mutation_answers_as_strawberry_and_writes_once(query: str) -> None:
    variables = {"input": {"text": "hello", "tags": ["a", "b"]}}

    expected, answer, writes = await _both(query, variables)

    assert answer == expected
    assert len(writes) == 1


async def test_a_resolver_that_raises_is_reported_as_strawberry_reports_it_and_runs_once() -> None:
    variables = {"input": {"text": "raise"}}

    expected, answer, writes = await _both(WRITE, variables)

    assert answer == expected
    assert json.loads(answer)["errors"][0]["path"] == ["writeNote"]
    assert writes == ["raise"]


@pytest.mark.parametrize(
    "variables",
    [
        {},  # missing
        {"input": {"text": 5}},  # the wrong type
        {"input": {"text": "x", "weight": "heavy"}},
        {"input": {"text": "x", "unknown": 1}},
    ],
)
async def test_variables_that_do_not_coerce_give_up_before_anything_is_written(
    variables: dict[str, Any],
) -> None:
    plan = _write_plan(WRITE)

    with pytest.raises(GiveUpError):
        await plan.answer(toy, variables, context=None)

    assert WRITES == []


def test_what_a_write_plan_covers() -> None:
    # Two root fields run one after another: left to Strawberry.
    two = (
        'mutation { a: writeNote(input: {text: "a"}) { text }'
        ' b: writeNote(input: {text: "b"}) { text } }'
    )
    assert plan_document(TOY, two, None, toy) is None
    # Without the Strawberry schema, mutations are not planned at all.
    assert plan_document(TOY, WRITE, None) is None
    # Fragments are left to Strawberry.
    fragment = 'mutation { writeNote(input: {text: "a"}) { ...F } } fragment F on Note { text }'
    assert plan_document(TOY, fragment, None, toy) is None


# --- recordOrder through the API, against an app without plans on the same database ------------


async def _post(client: httpx.AsyncClient, api: Api, variables: dict[str, Any]) -> httpx.Response:
    return await client.post(
        "/graphql",
        json={"query": RECORD_ORDER, "variables": variables},
        headers={"Authorization": f"Bearer {api.admin_key}"},
    )


Service = Callable[..., Awaitable[Any]]


@pytest.fixture
def service_runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The order ids the order service was called for."""
    runs: list[str] = []
    real: Service = orders_service.record_order

    async def counted(data: Any, *args: Any, **kwargs: Any) -> Any:
        runs.append(data.order_id)
        return await real(data, *args, **kwargs)

    monkeypatch.setattr(orders_service, "record_order", counted)
    return runs


async def _learned(api: Api) -> PlanCache:
    """recordOrder's document answered once by Strawberry, so that it has its plan."""
    plans = api.plans
    assert plans is not None and api.without_plans is not None
    await create_program(api)
    await enroll(api)
    first = await _post(api.http, api, {"input": order_input(order_id="learn")})
    assert first.status_code == 200 and "errors" not in first.json()
    assert isinstance(plans.get(RECORD_ORDER, None), WritePlan)
    return plans


async def test_a_planned_order_writes_once_and_replays_as_strawberry_replays(
    api: Api, service_runs: list[str]
) -> None:
    plans = await _learned(api)
    assert api.without_plans is not None
    variables = {"input": order_input(order_id="planned-1")}
    answers_before = plans.plan_answers

    written = await _post(api.http, api, variables)

    assert plans.plan_answers == answers_before + 1
    assert service_runs.count("planned-1") == 1
    recorded = written.json()["data"]["recordOrder"]
    assert recorded["userErrors"] == [] and recorded["alreadyRecorded"] is False
    # The replay, planned and not: the same order, the same bytes.
    replay_reference = await _post(api.without_plans, api, variables)
    replay_planned = await _post(api.http, api, variables)
    assert plans.plan_answers == answers_before + 2
    assert _comparable(replay_planned) == _comparable(replay_reference)
    replayed = replay_planned.json()["data"]["recordOrder"]
    assert replayed["alreadyRecorded"] is True
    assert {**replayed, "alreadyRecorded": False} == recorded
    assert service_runs.count("planned-1") == 3
    # One order, one ledger movement, whatever answered.
    balance = recorded["order"]["member"]["points"]["available"]
    assert replayed["order"]["member"]["points"]["available"] == balance == 50


@pytest.mark.parametrize(
    "overrides",
    [
        {"order_id": "learn", "unit_price_minor": 9999, "quantity": 1},  # ORDER_ALREADY_RECORDED
        {"order_id": "other-currency", "currency": "USD"},
        {"order_id": "no-program", "program_slug": "nope"},
        {"order_id": "bad-total", "totalMinor": -5},
    ],
)
async def test_user_errors_are_the_same_planned_or_not(
    api: Api, service_runs: list[str], overrides: dict[str, Any]
) -> None:
    plans = await _learned(api)
    assert api.without_plans is not None
    variables = {"input": order_input(**overrides)}
    runs_before = len(service_runs)
    reference = await _post(api.without_plans, api, variables)
    runs_by_strawberry = len(service_runs) - runs_before
    answers_before = plans.plan_answers

    planned = await _post(api.http, api, variables)

    assert plans.plan_answers == answers_before + 1
    assert _comparable(planned) == _comparable(reference)
    assert planned.json()["data"]["recordOrder"]["userErrors"]
    # The plan ran the service as often as Strawberry did: once, or not at all when the
    # resolver refused the input first.
    runs_by_plan = len(service_runs) - runs_before - runs_by_strawberry
    assert runs_by_plan == runs_by_strawberry <= 1


@pytest.mark.parametrize(
    "variables",
    [
        {},
        {"input": {**order_input(order_id="typed"), "totalMinor": "lots"}},
        {"input": {**order_input(order_id="extra"), "colour": "red"}},
    ],
)
async def test_bad_variables_get_strawberrys_errors_and_write_nothing(
    api: Api, service_runs: list[str], variables: dict[str, Any]
) -> None:
    plans = await _learned(api)
    assert api.without_plans is not None
    reference = await _post(api.without_plans, api, variables)
    answers_before = plans.plan_answers

    planned = await _post(api.http, api, variables)

    assert plans.plan_answers == answers_before  # the plan gave up; Strawberry answered
    assert _comparable(planned) == _comparable(reference)
    assert "errors" in planned.json()
    assert service_runs == ["learn"]


async def test_an_unexpected_error_is_masked_with_the_request_id_and_runs_once(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    plans = await _learned(api)
    assert api.without_plans is not None
    runs: list[str] = []

    async def failing(data: Any, *args: Any, **kwargs: Any) -> Any:
        runs.append(data.order_id)
        raise RuntimeError("the database went away")

    monkeypatch.setattr(orders_service, "record_order", failing)
    variables = {"input": order_input(order_id="fails")}
    reference = await _post(api.without_plans, api, variables)
    answers_before = plans.plan_answers

    planned = await _post(api.http, api, variables)

    assert plans.plan_answers == answers_before + 1
    assert _comparable(planned) == _comparable(reference)
    error = planned.json()["errors"][0]
    assert error["extensions"]["code"] == "INTERNAL_ERROR"
    assert error["extensions"]["requestId"] == planned.headers["x-request-id"]
    assert error["path"] == ["recordOrder"]
    assert runs == ["fails", "fails"]  # once for the reference, once for the plan


# --- the arguments' conversion, planned once per field, against Strawberry's --------------------


def _strawberry_and_planned(
    schema: strawberry.Schema, field_name: str, values: dict[str, Any]
) -> tuple[Any, Any]:
    from strawberry.types.arguments import convert_arguments

    from app.graphql.executor_adapter import _argument_converter, strawberry_definition

    core = graphql_schema(schema)
    assert core.mutation_type is not None
    definition = strawberry_definition(core.mutation_type.fields[field_name])
    converter = schema.schema_converter
    planned = _argument_converter(definition, converter.config, converter.scalar_registry)
    assert planned is not None, f"{field_name}'s arguments should have a planned conversion"
    reference = convert_arguments(
        values, definition.arguments, converter.scalar_registry, converter.config
    )
    return reference, planned(values)


@pytest.mark.parametrize(
    "values",
    [
        {"input": {"text": "a"}},
        {"input": {"text": "a", "tags": ["x"], "weight": None}},
        {"input": {"text": "a", "tags": [], "weight": 4}},
    ],
)
def test_the_toy_inputs_convert_as_strawberry_converts_them(values: dict[str, Any]) -> None:
    reference, planned = _strawberry_and_planned(toy, "writeNote", values)
    assert planned == reference


def test_an_orders_input_converts_as_strawberry_converts_it() -> None:
    from datetime import UTC, datetime

    from app.graphql.schema import schema as laurel_schema

    values = {
        "input": {
            "programSlug": "shop",
            "customerId": "c",
            "orderId": "o",
            "currency": "EUR",
            "totalMinor": 2500,
            "shippingMinor": None,
            "lines": [
                {"sku": "A", "category": "shoes", "quantity": 2, "unitPriceMinor": 1250},
                {"sku": "B", "quantity": 1, "unitPriceMinor": 0, "category": None},
            ],
            "placedAt": datetime(2026, 11, 20, 10, tzinfo=UTC),
        }
    }
    reference, planned = _strawberry_and_planned(laurel_schema, "recordOrder", values)
    assert planned == reference
    assert type(planned["input"].lines[0]) is type(reference["input"].lines[0])
    # A list is never shared with the values it came from.
    assert planned["input"].lines is not values["input"]["lines"]


# --- the variables' coercion, planned once per document, against graphql-core's -----------------


def _coerced_both_ways(
    schema: GraphQLSchema, query: str, inputs: dict[str, Any]
) -> tuple[Any, Any]:
    from graphql import OperationDefinitionNode, get_variable_values, parse

    from app.graphql.variables import variables_coercer

    operation = parse(query).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    coerce = variables_coercer(schema, operation)
    assert coerce is not None
    return get_variable_values(schema, operation.variable_definitions or (), inputs), coerce(inputs)


def _same_variables(planned: Any, reference: Any) -> None:
    assert planned.coerced == reference.coerced
    assert planned.sources.keys() == reference.sources.keys()
    for name, source in planned.sources.items():
        expected = reference.sources[name]
        assert source.value is expected.value
        assert (source.signature.name, str(source.signature.type)) == (
            expected.signature.name,
            str(expected.signature.type),
        )


@pytest.mark.parametrize(
    "inputs",
    [
        {"input": {"text": "a"}},
        {"input": {"text": "a", "tags": "single", "weight": None}},
        {"input": {"text": "a", "tags": ["x", "y"], "weight": 4}},
    ],
)
def test_variables_coerce_as_graphql_core_coerces_them(inputs: dict[str, Any]) -> None:
    reference, planned = _coerced_both_ways(TOY, WRITE, inputs)

    _same_variables(planned, reference)


@pytest.mark.parametrize(
    "inputs",
    [
        {},
        {"input": None},
        {"input": "text"},
        {"input": {"text": 5}},
        {"input": {"text": "a", "unknown": 1}},
        {"input": {"text": "a", "weight": 2**40}},
        {"input": {"text": "a", "tags": [None, 1]}},
    ],
)
def test_variables_that_do_not_coerce_are_left_to_graphql_core(inputs: dict[str, Any]) -> None:
    reference, planned = _coerced_both_ways(TOY, WRITE, inputs)

    assert planned is None
    assert isinstance(reference, list)  # graphql-core's errors


def test_an_orders_variables_coerce_as_graphql_core_coerces_them() -> None:
    from app.graphql.schema import schema as laurel_schema

    inputs = {"input": {**order_input(), "shippingMinor": 100}}
    reference, planned = _coerced_both_ways(graphql_schema(laurel_schema), RECORD_ORDER, inputs)

    _same_variables(planned, reference)


async def _audit_entries(request_id: str) -> list[dict[str, Any]]:
    from tests.graphql.helpers import rows

    return await rows(
        "SELECT operation, succeeded FROM audit_log"
        f" WHERE request_id = '{request_id}' ORDER BY id"  # a uuid the app made
    )


async def test_a_planned_admin_write_is_audited_once_as_strawberrys_is(api: Api) -> None:
    plans = await _learned(api)
    assert api.without_plans is not None
    answers_before = plans.plan_answers

    written = await _post(api.http, api, {"input": order_input(order_id="audited")})
    refused = await _post(api.http, api, {"input": order_input(program_slug="nope")})
    bad = await _post(api.http, api, {"input": {"orderId": "typed"}})

    assert plans.plan_answers == answers_before + 2  # the bad variables went to Strawberry
    for response, succeeded in ((written, True), (refused, False), (bad, False)):
        entries = await _audit_entries(response.headers["x-request-id"])
        assert [(entry["operation"], bool(entry["succeeded"])) for entry in entries] == [
            ("recordOrder", succeeded)
        ]
