"""Queries. Unknown or foreign objects are null; a malformed id or a forbidden read is an error."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from app.auth.api_keys import Principal
from app.domain.errors import DomainError
from app.graphql.catalogue import CatalogueQueries
from app.graphql.context import Info, admin, member_reader, member_session, principal_of
from app.graphql.errors import query_error
from app.graphql.ids import decode_any_id, decode_id, encode_cursor
from app.graphql.memberships import Membership, MembershipPlan, MembershipQueries
from app.graphql.mutations import OrderLineInput
from app.graphql.punch_cards import PunchCard, PunchCardQueries
from app.graphql.referrals import Referral, ReferralQueries
from app.graphql.store_credit import StoreCreditMovement
from app.graphql.tiers import Tier, TierQueries
from app.graphql.types import (
    ActionKindEnum,
    ActionRule,
    Activity,
    AuditEntry,
    AuditEntryConnection,
    AuditEntryEdge,
    EarningRule,
    Event,
    EventConnection,
    EventEdge,
    Member,
    Node,
    Order,
    OrderEarning,
    PageInfo,
    Program,
    Redemption,
    Reward,
    cursor_position,
    next_page_info,
    page_size,
    reward_for_reader,
)
from app.services.actions import service as actions_service
from app.services.core import audit as audit_service
from app.services.core import events as events_service
from app.services.members import service as members_service
from app.services.memberships import service as memberships_service
from app.services.orders import earning_rules as earning_rules_service
from app.services.orders import service as orders_service
from app.services.orders.earning import earning_json
from app.services.programs import service as programs_service
from app.services.punch_cards import service as punch_cards_service
from app.services.referrals import service as referrals_service
from app.services.rewards import service as rewards_service
from app.services.store_credit import service as store_credit_service
from app.services.tiers import service as tiers_service


def _member_reader(info: Info) -> Principal:
    try:
        return member_reader(info)
    except DomainError as exc:
        raise query_error(exc) from exc


async def _node(info: Info, type_name: str, pk: int) -> Node | None:
    principal = principal_of(info)
    scope = principal.program_scope
    if type_name == "Program":
        program = await programs_service.get_program(pk, scope)
        return Program.from_record(program) if program else None
    if type_name == "Reward":
        return await reward_for_reader(info, pk)
    if type_name == "PunchCard":
        card = await punch_cards_service.get_punch_card(pk, scope)
        # Like rewards: a storefront sees the cards `punchCards` lists, not retired ones.
        if card is None or not (card.active or principal.can_read_members):
            return None
        return PunchCard.from_record(card)
    if type_name == "ActionRule":
        action_rule = await actions_service.get_action_rule(pk, scope)
        if action_rule is None or not principal.can_read_members:
            return None
        return ActionRule.from_record(action_rule)
    if type_name == "EarningRule":
        rule = await earning_rules_service.get_earning_rule(pk, scope)
        if rule is None or not principal.can_read_members:
            return None
        return EarningRule.from_record(rule)
    if type_name == "Tier":
        tier = await tiers_service.get_tier(pk, scope)
        return Tier.from_record(tier) if tier else None
    if type_name == "Event":
        _admin(info)
        event = await events_service.get_event(pk)
        return Event.from_record(event) if event else None
    _member_reader(info)
    if type_name == "Member":
        member = await members_service.read_member(pk, scope)
        return Member.from_record(member) if member else None
    if type_name == "Activity":
        activity = await members_service.get_activity(pk, scope)
        return Activity.from_record(activity) if activity else None
    if type_name == "Order":
        order = await orders_service.get_order(pk, scope)
        return Order.from_record(order) if order else None
    if type_name == "Redemption":
        redemption = await rewards_service.get_redemption(pk, scope)
        return Redemption.from_record(redemption) if redemption else None
    if type_name == "StoreCreditMovement":
        movement = await store_credit_service.get_movement(pk, scope)
        return StoreCreditMovement.from_record(movement) if movement else None
    if type_name == "Referral":
        referral = await referrals_service.get_referral(pk, scope)
        return Referral.from_record(referral) if referral else None
    if type_name == "Membership":
        membership = await memberships_service.get_membership(pk, scope)
        return Membership.from_record(membership) if membership else None
    if type_name == "MembershipPlan":
        plan = await memberships_service.get_plan(pk, scope)
        return MembershipPlan.from_record(plan) if plan else None
    return None


def _admin(info: Info) -> Principal:
    try:
        return admin(info)
    except DomainError as exc:
        raise query_error(exc) from exc


def _decoded(global_id: str, type_name: str) -> int:
    try:
        return decode_id(global_id, type_name)
    except DomainError as exc:
        raise query_error(exc) from exc


@strawberry.input
class PreviewOrderInput:
    program_slug: str
    currency: str
    lines: list[OrderLineInput]
    shipping_minor: int = 0
    tax_minor: int = 0
    discount_minor: int = 0
    placed_at: datetime | None = strawberry.field(
        default=None, description="When the order would be placed; now by default."
    )
    exchange_rate: str | None = strawberry.field(
        default=None, description="Omit to use the program's configured rate for the currency."
    )
    paid_with_points_minor: int = strawberry.field(
        default=0, description="Money of the cart paid with points (see RecordOrderInput)."
    )
    paid_with_store_credit_minor: int = strawberry.field(
        default=0, description="Money of the cart paid with store credit."
    )


@strawberry.type
class Query(ReferralQueries, PunchCardQueries, TierQueries, MembershipQueries, CatalogueQueries):
    @strawberry.field(description="Any object by its global id; null when not found.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        decoded = decode_any_id(id)
        if decoded is None:
            _decoded(id, "Node")
            return None
        return await _node(info, decoded[0], decoded[1])

    @strawberry.field
    async def program(self, info: Info, slug: str) -> Program | None:
        record = await programs_service.get_program_by_slug(slug, principal_of(info).program_scope)
        return Program.from_record(record) if record else None

    @strawberry.field(description="Every program an admin key sees, or the key's own program.")
    async def programs(self, info: Info) -> list[Program]:
        records = await programs_service.list_programs(principal_of(info).program_scope)
        return [Program.from_record(record) for record in records]

    @strawberry.field(
        description="The member a member token names (publishable key plus X-Member-Token);"
        " null while that customer is not enrolled."
    )
    async def me(self, info: Info) -> Member | None:
        try:
            principal = member_session(info)
        except DomainError as exc:
            raise query_error(exc) from exc
        if principal.member_id is None:
            return None
        record = await members_service.read_member(principal.member_id, principal.program_scope)
        return Member.from_record(record) if record else None

    @strawberry.field
    async def member(self, info: Info, id: strawberry.ID) -> Member | None:
        principal = _member_reader(info)
        record = await members_service.read_member(_decoded(id, "Member"), principal.program_scope)
        return Member.from_record(record) if record else None

    @strawberry.field
    async def member_by_customer_id(
        self, info: Info, program_slug: str, customer_id: str
    ) -> Member | None:
        principal = _member_reader(info)
        program = await programs_service.get_program_by_slug(program_slug, principal.program_scope)
        if program is None:
            return None
        record = await members_service.get_member_by_customer_id(program.id, customer_id)
        return Member.from_record(record) if record else None

    @strawberry.field(description="Rewards of a program, cheapest first.")
    async def rewards(
        self, info: Info, program_slug: str, include_inactive: bool = False
    ) -> list[Reward]:
        principal = principal_of(info)
        if include_inactive:
            _member_reader(info)
        program = await programs_service.get_program_by_slug(program_slug, principal.program_scope)
        if program is None:
            return []
        records = await rewards_service.list_rewards(program.id, include_inactive=include_inactive)
        return [Reward.from_record(record) for record in records]

    @strawberry.field(description="Admin only: writes made with admin keys, newest first.")
    async def audit_log(
        self,
        info: Info,
        first: int = 50,
        after: str | None = None,
        target_id: Annotated[
            str | None,
            strawberry.argument(
                description="Only writes to this object (global id or program slug)."
            ),
        ] = None,
    ) -> AuditEntryConnection:
        _admin(info)
        limit = page_size(first)
        records = await audit_service.list_audit_log(
            before_id=cursor_position(after), limit=limit + 1, target_id=target_id
        )
        edges = [
            AuditEntryEdge(
                cursor=encode_cursor(record.id),
                node=AuditEntry(
                    id=strawberry.ID(str(record.id)),
                    api_key_id=record.api_key_id,
                    operation=record.operation,
                    target_type=record.target_type,
                    target_id=record.target_id,
                    input=record.input,
                    before=record.before,
                    after=record.after,
                    succeeded=record.succeeded,
                    request_id=record.request_id,
                    created_at=record.created_at,
                ),
            )
            for record in records[:limit]
        ]
        return AuditEntryConnection(
            edges=edges,
            page_info=next_page_info(len(records), limit, edges),
        )

    @strawberry.field(description="The outbox of domain events of a program, oldest first.")
    async def events(
        self,
        info: Info,
        program_slug: str,
        first: int = 50,
        after: str | None = None,
        type: str | None = None,
    ) -> EventConnection:
        _admin(info)
        limit = page_size(first)
        program = await programs_service.get_program_by_slug(program_slug, None)
        if program is None:
            return EventConnection(
                edges=[], page_info=PageInfo(has_next_page=False, end_cursor=None)
            )
        records = await events_service.list_events(
            program.id, after_id=cursor_position(after), limit=limit + 1, event_type=type
        )
        edges = [
            EventEdge(cursor=encode_cursor(record.id), node=Event.from_record(record))
            for record in records[:limit]
        ]
        return EventConnection(
            edges=edges,
            page_info=next_page_info(len(records), limit, edges),
        )

    @strawberry.field(
        description="What a cart would earn, with the breakdown; writes nothing. With a member"
        " token, as that member would (their tier's rules and multiplier)."
    )
    async def preview_order_points(self, info: Info, input: PreviewOrderInput) -> OrderEarning:
        principal = principal_of(info)
        try:
            earning = await orders_service.preview_order(
                orders_service.CartPreviewInput(
                    program_slug=input.program_slug,
                    currency=input.currency,
                    lines=[line.to_service() for line in input.lines],
                    shipping_minor=input.shipping_minor,
                    tax_minor=input.tax_minor,
                    discount_minor=input.discount_minor,
                    placed_at=input.placed_at,
                    exchange_rate=input.exchange_rate,
                    paid_with_points_minor=input.paid_with_points_minor,
                    paid_with_store_credit_minor=input.paid_with_store_credit_minor,
                    member_id=principal.member_id if principal.is_member_session else None,
                ),
                principal.program_scope,
            )
        except DomainError as exc:
            raise query_error(exc) from exc
        return OrderEarning.from_json(earning_json(earning))

    @strawberry.field(description="Purchase rules and campaigns of a program, by priority.")
    async def earning_rules(self, info: Info, program_slug: str) -> list[EarningRule]:
        principal = _member_reader(info)
        program = await programs_service.get_program_by_slug(program_slug, principal.program_scope)
        if program is None:
            return []
        records = await earning_rules_service.list_earning_rules(program.id)
        return [EarningRule.from_record(record) for record in records]

    @strawberry.field(description="Action rules of a program.")
    async def action_rules(self, info: Info, program_slug: str) -> list[ActionRule]:
        principal = _member_reader(info)
        program = await programs_service.get_program_by_slug(program_slug, principal.program_scope)
        if program is None:
            return []
        records = await actions_service.list_action_rules(program.id)
        return [ActionRule.from_record(record) for record in records]

    @strawberry.field(
        description="What an action would earn the member now; an error says why it would not."
    )
    async def preview_action_points(
        self,
        info: Info,
        member_id: strawberry.ID,
        action: ActionKindEnum,  # type: ignore[valid-type]
        qualifier: str | None = None,
    ) -> int:
        principal = _member_reader(info)
        try:
            return await actions_service.preview_action(
                decode_id(member_id, "Member", ["memberId"]),
                action,
                qualifier,
                principal.program_scope,
            )
        except DomainError as exc:
            raise query_error(exc) from exc
