"""The two GraphQL documents under test; wrk's Lua scripts get them through BENCH_DOCUMENT.

Fixed texts, so Strawberry's parser and validation caches hit; only the variables change.
Neither may contain a double quote, a backslash or a percent sign: the Lua scripts paste them
into JSON and through string.format as they are.
"""

from __future__ import annotations

RECORD_ORDER_DOCUMENT = (
    "mutation($input: RecordOrderInput!) { recordOrder(input: $input) {"
    " order { id orderId pointsEarned } alreadyRecorded userErrors { code message } } }"
)
MEMBER_STATUS_DOCUMENT = (
    "query($id: ID!) { member(id: $id) { id"
    " points { available pending lifetimeEarned lifetimeRedeemed }"
    " activity(first: 10) { edges { node { kind points description orderId createdAt } } } } }"
)
