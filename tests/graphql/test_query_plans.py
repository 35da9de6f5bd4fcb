"""Query plans (app/graphql/compiled.py): the same answers as Strawberry, or no answer at all.

Every query of the API tests is also checked against an app without plans (tests/graphql/conftest);
these tests pin down what gets a plan, that plans do answer, and that each way graphql-core
reports an error makes the plan give up rather than answer differently.
"""

from __future__ import annotations

import asyncio
import enum
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar, cast

import pytest
import strawberry
from graphql import GraphQLSchema
from strawberry.extensions import SchemaExtension
from strawberry.permission import BasePermission
from strawberry.scalars import JSON

from app.auth.api_keys import KeyKind
from app.domain.ids import decode_any_id
from app.graphql.compiled import (
    KEPT_ANSWERS_PER_INSTANCE,
    SPENDS_ON_READ,
    GiveUpError,
    Plan,
    kept_answers,
    plan_document,
    shared_and_unchanging,
)
from app.graphql.encoding import encode_answer
from app.graphql.executor_adapter import graphql_schema
from app.graphql.members.types import _activity_edges
from app.graphql.plan_cache import PlanCache
from app.graphql.schema import schema as laurel_schema
from app.services.members import service as members_service
from tests.graphql.conftest import Api
from tests.graphql.factories import create_program, enroll, grant_points, program_key
from tests.graphql.helpers import top_level_codes

# --- a small schema with every shape a plan handles, and the ways a field can fail ------------


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


@strawberry.type
class Leaf:
    name: str
    size: int
    colour: Colour
    at: datetime
    note: str | None = None
    ripe: bool = True
    weight: float = 1.5


class Allow(BasePermission):
    message = "allowed"

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return True


class Deny(BasePermission):
    message = "denied"

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return False


@strawberry.type
class Branch:
    title: str
    leaves: list[Leaf]
    best: Leaf | None
    # Plain attributes behind permissions: only Strawberry's resolver runs the check.
    open_note: str = strawberry.field(default="open", permission_classes=[Allow])
    closed_note: str = strawberry.field(default="closed", permission_classes=[Deny])

    @strawberry.field
    async def first_leaves(self, count: int = 1) -> list[Leaf]:
        return self.leaves[:count]


LEAVES = [
    Leaf(name="a", size=1, colour=Colour.RED, at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
    Leaf(name="b", size=2, colour=Colour.GREEN, at=datetime(2026, 2, 3, tzinfo=UTC), note="n"),
]


@shared_and_unchanging
@strawberry.type
class Stamp:
    """Shared and unchanging: a plan keeps its answers on it."""

    code: str
    colour: Colour
    at: datetime
    note: str | None = None


@shared_and_unchanging
@strawberry.type
class Seal:
    stamp: Stamp
    leaf: Leaf  # not marked: a seal's answer with its leaf is made anew every time
    marks: list[str]  # a list could be changed in place: never kept


AT = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
STAMP = Stamp(code="s1", colour=Colour.RED, at=AT)
SEAL = Seal(stamp=STAMP, leaf=Leaf(name="l", size=1, colour=Colour.GREEN, at=AT), marks=["m"])


# Siblings and list items that can only finish together: run one after another, they wait for
# each other until the timeout.
RENDEZVOUS: list[asyncio.Barrier] = []
LINGERING: list[str] = []


async def _meet() -> None:
    await asyncio.wait_for(RENDEZVOUS[0].wait(), timeout=2)


@strawberry.type
class Racer:
    name: str

    @strawberry.field
    async def arrived(self) -> str:
        await _meet()
        return self.name


@strawberry.type
class ToyQuery:
    @strawberry.field
    async def left(self) -> str:
        await _meet()
        return "left"

    @strawberry.field
    async def right(self) -> str:
        await _meet()
        return "right"

    @strawberry.field
    def racers(self) -> list[Racer]:
        return [Racer(name="a"), Racer(name="b"), Racer(name="c")]

    @strawberry.field
    async def lingering(self) -> str:
        try:
            await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            LINGERING.append("cancelled")
            raise
        LINGERING.append("finished")
        return "done"

    @strawberry.field
    def stamp(self) -> Stamp:
        return STAMP

    @strawberry.field
    def seal(self) -> Seal:
        return SEAL

    @strawberry.field
    async def branch(self, title: str = "oak") -> Branch:
        return Branch(title=title, leaves=LEAVES, best=None)

    @strawberry.field
    def missing(self) -> Leaf:
        # Declared non-null, returns null: graphql-core reports an error.
        return None  # type: ignore[return-value]

    @strawberry.field
    def broken(self) -> int:
        raise ValueError("resolver failed")

    @strawberry.field
    def huge(self) -> int:
        return 2**40  # outside GraphQL's Int

    @strawberry.field
    def stamped(self, note: JSON) -> int:
        # Changes its argument in place: a literal shared by every request would count up.
        fields = cast(dict[str, Any], note)
        fields["stamps"] = fields.get("stamps", 0) + 1
        return int(fields["stamps"])

    @strawberry.field(metadata={SPENDS_ON_READ: True})  # type: ignore[untyped-decorator]
    def spending(self) -> int:
        return 1


toy = strawberry.Schema(query=ToyQuery)
TOY: GraphQLSchema = graphql_schema(toy)


async def planned(query: str, variables: dict[str, Any] | None = None) -> bytes:
    plan = plan_document(TOY, query, None)
    assert plan is not None, "the document should have a plan"
    return await plan.answer(toy, variables or {}, context=None)


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        (
            "{ branch { title leaves { name size colour at note ripe weight } best { name } } }",
            None,
        ),
        ('{ b: branch(title: "elm") { t: title __typename leaves { n: name } } }', None),
        (
            "query($count: Int!) { branch { firstLeaves(count: $count) { name colour } } }",
            {"count": 2},
        ),
        ("query { branch { firstLeaves { name } } }", None),
        ("query Named { __typename branch { title } }", None),
        ("{ branch { title openNote } }", None),
    ],
)
async def test_a_plan_answers_what_strawberry_answers(
    query: str, variables: dict[str, Any] | None
) -> None:
    reference = await toy.execute(query, variable_values=variables)
    assert reference.errors is None
    # Bytes, as Strawberry's view encodes them: `true` and `1` must not pass for each other.
    expected = encode_answer({"data": reference.data})  # Strawberry's view encodes with it too
    assert await planned(query, variables) == expected


async def test_a_literal_argument_a_resolver_changes_is_not_shared_between_requests() -> None:
    query = '{ stamped(note: {from: "test"}) }'
    plan = plan_document(TOY, query, None)
    assert plan is not None
    answers = [await plan.answer(toy, {}, context=None) for _ in range(3)]
    assert answers == [b'{"data":{"stamped":1}}'] * 3


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("{ missing { name } }", None),  # null in a non-null position
        ("{ broken }", None),  # the resolver raises
        ("{ huge }", None),  # the scalar cannot serialise the value
        ("{ branch { title closedNote } }", None),  # a permission refuses
        ("query($count: Int!) { branch { firstLeaves(count: $count) { name } } }", {}),
        ("query($count: Int!) { branch { firstLeaves(count: $count) { name } } }", {"count": "x"}),
    ],
)
async def test_a_plan_gives_up_wherever_graphql_core_reports_an_error(
    query: str, variables: dict[str, Any]
) -> None:
    reference = await toy.execute(query, variable_values=variables)
    assert reference.errors, "the reference must report an error for the case to mean anything"
    plan = plan_document(TOY, query, None)
    assert plan is not None
    with pytest.raises(GiveUpError):
        await plan.answer(toy, variables, context=None)


@pytest.mark.parametrize(
    ("query", "operation_name"),
    [
        ("mutation { x }", None),
        ("{ branch { ...Parts } } fragment Parts on Branch { title }", None),
        ("{ branch { ... on Branch { title } } }", None),
        ("{ branch { title @include(if: true) } }", None),
        ("{ __schema { queryType { name } } }", None),
        ("{ branch { title title } }", None),  # one response key selected twice
        ("{ spending }", None),
        ("query A { __typename } query B { __typename }", "A"),
        ("query A { __typename }", "B"),
    ],
)
def test_documents_left_to_strawberry(query: str, operation_name: str | None) -> None:
    assert plan_document(TOY, query, operation_name) is None


async def test_a_shared_unchanging_object_is_completed_once_per_shape() -> None:
    query = "{ stamp { code colour at note } }"
    reference = await toy.execute(query)
    expected = encode_answer({"data": reference.data})
    plan = plan_document(TOY, query, None)
    assert plan is not None
    assert await plan.answer(toy, {}, context=None) == expected
    same_shape = plan_document(TOY, "query { stamp { code  colour at note } }", None)
    other_shape = plan_document(TOY, "{ stamp { c: code } }", None)
    assert same_shape is not None and other_shape is not None
    # Changed against the contract, to show what is read again and what is kept: the answer
    # kept for the first shape stays, for its plan and any other of that shape; another shape
    # is completed from the instance.
    STAMP.code = "changed"
    try:
        assert await plan.answer(toy, {}, context=None) == expected
        assert await same_shape.answer(toy, {}, context=None) == expected
        changed = await other_shape.answer(toy, {}, context=None)
        assert changed == b'{"data":{"stamp":{"c":"changed"}}}'
    finally:
        STAMP.code = "s1"


async def test_an_instance_keeps_a_few_answers_however_many_shapes_ask() -> None:
    stamp = Stamp(code="s9", colour=Colour.RED, at=AT)
    globals()["STAMP"], kept_before = stamp, STAMP
    try:
        for index in range(50):
            plan = plan_document(TOY, f"{{ stamp {{ c{index}: code }} }}", None)
            assert plan is not None
            answer = await plan.answer(toy, {}, context=None)
            assert answer == f'{{"data":{{"stamp":{{"c{index}":"s9"}}}}}}'.encode()
            assert 1 <= len(kept_answers(stamp)) <= KEPT_ANSWERS_PER_INSTANCE
    finally:
        globals()["STAMP"] = kept_before


@pytest.mark.parametrize(
    ("selection", "path"),
    [
        ("leaf { name }", ("leaf", "name")),  # a type not marked
        ("marks", ("marks",)),  # a list
    ],
)
async def test_answers_with_unmarked_objects_or_lists_are_not_kept(
    selection: str, path: tuple[str, ...]
) -> None:
    plan = plan_document(TOY, f"{{ seal {{ stamp {{ code }} {selection} }} }}", None)
    assert plan is not None
    first = json.loads(await plan.answer(toy, {}, context=None))
    assert first["data"]["seal"]["stamp"] == {"code": "s1"}
    SEAL.leaf.name = "changed"
    SEAL.marks.append("n")
    try:
        again = json.loads(await plan.answer(toy, {}, context=None))["data"]["seal"]
        for step in path:
            again = again[step]
        assert again == ("changed" if path[0] == "leaf" else ["m", "n"])
    finally:
        SEAL.leaf.name = "l"
        SEAL.marks.remove("n")


async def test_nothing_is_kept_from_a_plan_that_gives_up() -> None:
    plan = plan_document(TOY, "{ stamp { code at } }", None)
    assert plan is not None
    fresh = Stamp(code="s2", colour=Colour.GREEN, at=None)  # type: ignore[arg-type]
    good = STAMP
    globals()["STAMP"] = fresh
    try:
        with pytest.raises(GiveUpError):
            await plan.answer(toy, {}, context=None)
        fresh.at = AT
        answer = await plan.answer(toy, {}, context=None)
        assert answer == b'{"data":{"stamp":{"code":"s2","at":"2026-03-04T05:06:07+00:00"}}}'
    finally:
        globals()["STAMP"] = good


@pytest.mark.parametrize(
    ("query", "meeting"),
    [("{ left right }", 2), ("{ racers { arrived } }", 3)],
)
async def test_sibling_fields_and_list_items_with_resolvers_run_at_once(
    query: str, meeting: int
) -> None:
    RENDEZVOUS[:] = [asyncio.Barrier(meeting)]
    reference = await toy.execute(query)
    assert reference.errors is None
    RENDEZVOUS[:] = [asyncio.Barrier(meeting)]
    assert await planned(query) == encode_answer({"data": reference.data})


@pytest.mark.parametrize(
    "query", ["{ lingering broken }", "{ racers { arrived } lingering broken }"]
)
async def test_a_plan_that_gives_up_waits_for_its_siblings_and_cancels_none(query: str) -> None:
    # Cancelled at the wrong moment, Tortoise's transaction keeps SQLite's lock for good.
    RENDEZVOUS[:] = [asyncio.Barrier(3)]
    LINGERING.clear()
    plan = plan_document(TOY, query, None)
    assert plan is not None
    with pytest.raises(GiveUpError):
        await asyncio.wait_for(plan.answer(toy, {}, context=None), timeout=5)
    assert LINGERING == ["finished"], "every sibling ends before the plan gives up"


def test_the_laurel_schema_plans_reads_but_not_code_checks_or_abstract_types() -> None:
    schema = graphql_schema(laurel_schema)
    member_status = (
        "query($id: ID!) { member(id: $id) { id points { available }"
        " activity(first: 10) { edges { node { kind points createdAt } } } } }"
    )
    assert plan_document(schema, member_status, None) is not None
    check = 'query { validateRedemptionCode(programSlug: "shop", code: "X") { __typename } }'
    assert plan_document(schema, check, None) is None
    assert plan_document(schema, 'query { node(id: "x") { id } }', None) is None


def test_the_plan_cache_is_bounded_and_remembers_documents_without_plans() -> None:
    cache = PlanCache(toy, maxsize=2)
    cache.learn("{ branch { title } }", None)
    cache.learn("{ __schema { queryType { name } } }", None)
    assert isinstance(cache.get("{ branch { title } }", None), Plan)
    assert cache.knows("{ __schema { queryType { name } } }", None)
    assert cache.get("{ __schema { queryType { name } } }", None) is None
    cache.learn("{ branch { leaves { name } } }", None)
    # The least recently used one went: the introspection document, not the one just read.
    assert not cache.knows("{ __schema { queryType { name } } }", None)
    assert cache.knows("{ branch { title } }", None)


def test_a_document_that_keeps_failing_goes_to_strawberry_for_a_while() -> None:
    now = [100.0]
    cache = PlanCache(toy, clock=lambda: now[0])
    query = "{ branch { title } }"
    cache.learn(query, None)
    for _ in range(PlanCache.FAILURES_BEFORE_PAUSE - 1):
        cache.failed(query, None)
    cache.answered(query, None)  # a run of failures ends with an answer
    for _ in range(PlanCache.FAILURES_BEFORE_PAUSE - 1):
        cache.failed(query, None)
    assert cache.get(query, None) is not None
    cache.failed(query, None)
    assert cache.get(query, None) is None
    assert cache.knows(query, None), "no second looks at its answers while paused"
    now[0] += PlanCache.PAUSE_SECONDS
    assert not cache.knows(query, None), "after the pause it is planned again"
    cache.learn(query, None)
    assert cache.get(query, None) is not None

    never_answered = "{ broken }"
    for _ in range(PlanCache.FAILURES_BEFORE_PAUSE):
        assert not cache.knows(never_answered, None)
        cache.failed(never_answered, None)
    assert cache.knows(never_answered, None)


# --- through the app -----------------------------------------------------------------------

MEMBER_STATUS = """
query($id: ID!) { member(id: $id) { id
  points { available pending lifetimeEarned lifetimeRedeemed }
  activity(first: 10) { edges { node { kind points description orderId createdAt } } } } }"""


@pytest.fixture
def plan_answers(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    answered: list[bytes] = []
    answer = Plan.answer

    async def counted(self: Plan, *args: Any, **kwargs: Any) -> bytes:
        body = await answer(self, *args, **kwargs)
        answered.append(body)
        return body

    monkeypatch.setattr(Plan, "answer", counted)
    return answered


async def test_a_query_answered_once_is_answered_by_its_plan_after(
    api: Api, plan_answers: list[bytes]
) -> None:
    await create_program(api)
    member = await enroll(api)
    await grant_points(api, member["id"], 70)
    api.check_plans = False  # counted here: the suite's own check would ask twice
    first = await api.post(MEMBER_STATUS, {"id": member["id"]})
    assert plan_answers == []
    second = await api.post(MEMBER_STATUS, {"id": member["id"]})
    assert len(plan_answers) == 1
    assert second.content == first.content
    assert second.headers["content-type"] == first.headers["content-type"]
    assert second.headers["x-request-id"] != first.headers["x-request-id"]
    assert second.json()["data"]["member"]["points"]["available"] == 70
    # The page's edges and nodes are shared and keep the plan's answer for the next request.
    decoded = decode_any_id(member["id"])
    assert decoded is not None
    records = await members_service.list_activity(decoded[1], before_id=None, limit=11)
    assert records
    for record in records:
        edge = _activity_edges.edge(record)
        assert list(kept_answers(edge)) == [
            "ActivityEdge{node:node:Activity{kind:kind:ActivityKind,points:points:Int,"
            "description:description:String,orderId:orderId:String,createdAt:createdAt:DateTime}}"
        ]
        assert len(kept_answers(edge.node)) == 1


class CountingRequests(SchemaExtension):
    """What a metrics or tracing extension would count: operations and executions."""

    operations: ClassVar[list[str | None]] = []
    executions: ClassVar[list[str | None]] = []

    def on_operation(self) -> Iterator[None]:
        yield
        CountingRequests.operations.append(self.execution_context.query)

    async def on_execute(self) -> AsyncIterator[None]:
        CountingRequests.executions.append(self.execution_context.query)
        yield


async def test_schema_extensions_see_every_request_planned_or_not(
    api: Api, plan_answers: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    await create_program(api)
    member = await enroll(api)
    api.check_plans = False  # counted here: the suite's own check would ask twice
    monkeypatch.setattr(laurel_schema, "extensions", [*laurel_schema.extensions, CountingRequests])
    CountingRequests.operations.clear()
    CountingRequests.executions.clear()
    for _ in range(3):
        await api.data(MEMBER_STATUS, {"id": member["id"]})
    assert len(plan_answers) == 2, "Strawberry answered the first, the plan the others"
    assert CountingRequests.operations == [MEMBER_STATUS] * 3
    assert CountingRequests.executions == [MEMBER_STATUS] * 3


async def test_a_planned_query_that_fails_is_answered_by_strawberry_with_its_error(
    api: Api, plan_answers: list[bytes]
) -> None:
    await create_program(api)
    member = await enroll(api)
    api.check_plans = False  # counted here: the suite's own check would ask twice
    await api.data(MEMBER_STATUS, {"id": member["id"]})
    await api.data(MEMBER_STATUS, {"id": member["id"]})
    assert len(plan_answers) == 1
    publishable = await program_key("shop", kind=KeyKind.PUBLISHABLE)
    refused = await api.gql(MEMBER_STATUS, {"id": member["id"]}, key=publishable)
    assert top_level_codes(refused) == ["FORBIDDEN"]
    assert refused["data"] is None or refused["data"]["member"] is None
    wrong_variable = await api.gql(MEMBER_STATUS, {"id": 12})
    assert wrong_variable["data"] is None or wrong_variable["data"]["member"] is None
    assert len(plan_answers) == 1, "neither failing request may be answered by the plan"


async def test_a_document_strawberry_refuses_gets_no_plan(
    api: Api, plan_answers: list[bytes]
) -> None:
    await create_program(api)
    for _ in range(2):
        body = await api.gql("query { programs { noSuchField } }")
        assert body.get("errors")
    assert plan_answers == []
