"""Actions in the API: the rules that award points for what members do."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.domain.actions import ActionKind, Frequency
from app.domain.locales import TranslatableKind
from app.graphql.core.node import Node
from app.graphql.core.records import from_record
from app.graphql.translations.types import TranslatedName
from app.services.actions.service import ActionRuleRecord

ActionKindEnum = strawberry.enum(ActionKind, name="ActionKind")


FrequencyEnum = strawberry.enum(Frequency, name="ActionFrequency")


@strawberry.type(description="Points for an action: a review, a sign-up, a follow, a custom event.")
class ActionRule(TranslatedName, Node):
    translatable = TranslatableKind.ACTION_RULE
    action: ActionKindEnum  # type: ignore[valid-type]
    qualifier: str = strawberry.field(
        description="The network of a follow or share, the name of a custom event; else empty."
    )
    points: int
    frequency: FrequencyEnum  # type: ignore[valid-type]
    frequency_limit: int = strawberry.field(description="Awards allowed per period.")
    cap_points: int | None = strawberry.field(
        description="Most points one member earns from this rule, ever."
    )
    self_service: bool = strawberry.field(
        description="Members may report it themselves with a member token."
    )
    paused: bool
    created_at: datetime

    @classmethod
    def from_record(cls, record: ActionRuleRecord) -> ActionRule:
        return from_record(cls, record)
