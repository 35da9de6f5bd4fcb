"""`node(id:)`: any object by its global id, read as its own capability's query would."""

from __future__ import annotations

import strawberry

from app.auth.api_keys import Principal
from app.domain.engagement import ChallengeStatus
from app.graphql.actions.types import ActionRule
from app.graphql.backtests.types import BacktestJob
from app.graphql.bulk.types import BulkOperation
from app.graphql.core.context import Info
from app.graphql.core.events import Event
from app.graphql.core.ids import decode_any_id
from app.graphql.core.jobs import register_job
from app.graphql.core.node import Node, node_loader_of, register_node, register_node_loader
from app.graphql.core.query_checks import admin_in_query, decoded_in_query, member_reader_in_query
from app.graphql.engagement.types import Badge, Challenge
from app.graphql.experiments.types import Experiment
from app.graphql.imports.types import ImportJob
from app.graphql.members.types import Activity, Member, Membership, Redemption, Referral
from app.graphql.memberships.types import MembershipPlan
from app.graphql.orders.types import EarningRule, Order
from app.graphql.programs.types import Program
from app.graphql.punch_cards.types import PunchCard
from app.graphql.rewards.types import reward_for_reader
from app.graphql.segments.types import Segment
from app.graphql.store_credit.types import StoreCreditMovement
from app.graphql.tiers.types import Tier
from app.services.actions import service as actions_service
from app.services.backtests import jobs as backtest_jobs_service
from app.services.bulk import service as bulk_service
from app.services.core import events as events_service
from app.services.engagement import badges as badges_service
from app.services.engagement import challenges as challenges_service
from app.services.experiments import service as experiments_service
from app.services.imports import jobs as import_jobs_service
from app.services.members import service as members_service
from app.services.memberships import service as memberships_service
from app.services.orders import earning_rules as earning_rules_service
from app.services.orders import service as orders_service
from app.services.programs import service as programs_service
from app.services.punch_cards import service as punch_cards_service
from app.services.referrals import service as referrals_service
from app.services.rewards import service as rewards_service
from app.services.segments import service as segments_service
from app.services.store_credit import service as store_credit_service
from app.services.tiers import service as tiers_service


def _member_readers_only(record: object, principal: Principal) -> bool:
    return principal.can_read_members


# A storefront sees the cards, challenges and badges their lists show, not retired ones; rules
# are for member readers only. Segments and jobs are admin-only; the member's own records need a
# member reader.
register_node(Program, programs_service.get_program)
register_node(
    PunchCard,
    punch_cards_service.get_punch_card,
    visible=lambda card, principal: card.active or principal.can_read_members,
)
register_node(
    Challenge,
    challenges_service.get_challenge,
    visible=lambda challenge, principal: (
        challenge.status is ChallengeStatus.ACTIVE or principal.can_read_members
    ),
)
register_node(
    Badge,
    badges_service.get_badge,
    visible=lambda badge, principal: badge.archived_at is None or principal.can_read_members,
)
register_node(ActionRule, actions_service.get_action_rule, visible=_member_readers_only)
register_node(EarningRule, earning_rules_service.get_earning_rule, visible=_member_readers_only)
register_node(Tier, tiers_service.get_tier)
register_node(Segment, segments_service.get_segment, check=admin_in_query)
register_node(Experiment, experiments_service.get_experiment, check=admin_in_query)
register_job(ImportJob, import_jobs_service.get_import_job)
register_job(BulkOperation, bulk_service.get_bulk_operation)
register_job(BacktestJob, backtest_jobs_service.get_backtest_job)
register_node(Member, members_service.read_member, check=member_reader_in_query)
register_node(Activity, members_service.get_activity, check=member_reader_in_query)
register_node(Order, orders_service.get_order, check=member_reader_in_query)
register_node(Redemption, rewards_service.get_redemption, check=member_reader_in_query)
register_node(StoreCreditMovement, store_credit_service.get_movement, check=member_reader_in_query)
register_node(Referral, referrals_service.get_referral, check=member_reader_in_query)
register_node(Membership, memberships_service.get_membership, check=member_reader_in_query)
register_node(MembershipPlan, memberships_service.get_plan, check=member_reader_in_query)
register_node_loader("Reward", reward_for_reader)


async def _event(info: Info, pk: int) -> Node | None:
    admin_in_query(info)
    event = await events_service.get_event(pk)
    return Event.from_record(event) if event else None


register_node_loader("Event", _event)


@strawberry.field(description="Any object by its global id; null when not found.")
async def node(info: Info, id: strawberry.ID) -> Node | None:
    decoded = decode_any_id(id)
    if decoded is None:
        decoded_in_query(id, "Node")
        return None
    loader = node_loader_of(decoded[0])
    if loader is None:
        # Types read only through their own queries (webhook endpoints and deliveries) answer
        # null, after the same member-reader check as member records.
        member_reader_in_query(info)
        return None
    return await loader(info, decoded[1])
