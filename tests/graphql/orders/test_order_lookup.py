"""`order(programSlug, orderId)`: an order by the store's own id, with what it earned and why, for
secret and admin keys; the same answer as `node(id:)`, null when unknown or another program's."""

from __future__ import annotations

from app.auth.api_keys import KeyKind
from tests.graphql.conftest import Api
from tests.graphql.factories import create_program, enroll, program_key, record_order
from tests.graphql.helpers import top_level_codes

ORDER = """query($slug: String!, $orderId: String!) {
  order(programSlug: $slug, orderId: $orderId) {
    id orderId pointsEarned totalMinor earning { points baseMinor lines { sku points } }
  }
}"""
NODE = """query($id: ID!) { node(id: $id) { ... on Order {
  id orderId pointsEarned totalMinor earning { points baseMinor lines { sku points } }
} } }"""


async def test_an_order_by_the_stores_id_is_the_node_of_that_order(api: Api) -> None:
    await create_program(api)
    await enroll(api)
    recorded = await record_order(api, order_id="A-1")
    secret = await program_key("shop")

    data = await api.data(ORDER, {"slug": "shop", "orderId": "A-1"})
    by_secret = await api.data(ORDER, {"slug": "shop", "orderId": "A-1"}, key=secret)
    node = await api.data(NODE, {"id": recorded["order"]["id"]})

    assert data["order"] == node["node"]
    assert by_secret == data
    assert data["order"]["pointsEarned"] == recorded["order"]["pointsEarned"] == 25
    assert data["order"]["earning"]["lines"] == [{"sku": "SKU-1", "points": 25}]


async def test_unknown_orders_and_other_programs_orders_are_null(api: Api) -> None:
    await create_program(api)
    await create_program(api, slug="rival")
    await enroll(api, program_slug="rival")
    await record_order(api, program_slug="rival", order_id="R-1")
    shop_secret = await program_key("shop")

    unknown = await api.data(ORDER, {"slug": "shop", "orderId": "nope"})
    foreign = await api.data(ORDER, {"slug": "rival", "orderId": "R-1"}, key=shop_secret)
    wrong_program = await api.data(ORDER, {"slug": "shop", "orderId": "R-1"})

    assert unknown == {"order": None}
    assert foreign == {"order": None}
    assert wrong_program == {"order": None}


async def test_a_publishable_key_may_not_read_orders(api: Api) -> None:
    await create_program(api)
    await enroll(api)
    await record_order(api, order_id="A-1")
    publishable = await program_key("shop", KeyKind.PUBLISHABLE)

    body = await api.gql(ORDER, {"slug": "shop", "orderId": "A-1"}, key=publishable)

    assert top_level_codes(body) == ["FORBIDDEN"]
    assert body["data"]["order"] is None
