"""The schema and its protective extensions; `scripts/export-schema` writes it to schema.graphql."""

from __future__ import annotations

import strawberry
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)

from app.graphql.audit import AuditAdminWrites
from app.graphql.memberships import Membership, MembershipPlan
from app.graphql.mutations import Mutation
from app.graphql.protection import (
    IntrospectionForAdminsInProduction,
    MaskErrorsWithRequestId,
    QueryCostLimit,
)
from app.graphql.punch_cards import PunchCard
from app.graphql.queries import Query
from app.graphql.store_credit import StoreCreditMovement
from app.graphql.tiers import Tier
from app.graphql.types import (
    ActionRule,
    Activity,
    EarningRule,
    Event,
    Member,
    Order,
    Program,
    Redemption,
    Reward,
)

# Built once: the validation cache is keyed on the rule classes, and these extensions make new
# classes each time they are constructed, which would make every request a cache miss.
DOCUMENT_CACHE_SIZE = 512
_LIMIT_RULES = [
    *QueryDepthLimiter(max_depth=10).validation_rules,
    *MaxAliasesLimiter(max_alias_count=30).validation_rules,
    QueryCostLimit,
]

schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    types=[
        Program,
        Member,
        Activity,
        Reward,
        Redemption,
        Order,
        Event,
        EarningRule,
        ActionRule,
        PunchCard,
        StoreCreditMovement,
        Membership,
        MembershipPlan,
        Tier,
    ],
    extensions=[
        # Factories: Strawberry builds extensions per request. The two caches live at module
        # level, so they still hit across requests; without them Strawberry parses and
        # validates every request again (about 2 ms for a small mutation).
        lambda: ParserCache(maxsize=DOCUMENT_CACHE_SIZE),
        lambda: ValidationCache(maxsize=DOCUMENT_CACHE_SIZE),
        IntrospectionForAdminsInProduction,
        lambda: AddValidationRules(_LIMIT_RULES),
        lambda: MaxTokensLimiter(max_token_count=5000),
        AuditAdminWrites,
        MaskErrorsWithRequestId,
    ],
)
