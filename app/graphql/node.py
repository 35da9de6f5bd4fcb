"""`node(id:)`: any object by its global id, read as its own capability's query would."""

from __future__ import annotations

import strawberry

from app.domain.engagement import ChallengeStatus
from app.graphql.actions.types import ActionRule
from app.graphql.backtests.types import BacktestJob
from app.graphql.bulk.types import BulkOperation
from app.graphql.core.context import Info, principal_of
from app.graphql.core.events import Event
from app.graphql.core.ids import decode_any_id
from app.graphql.core.node import Node
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
    if type_name == "Challenge":
        challenge = await challenges_service.get_challenge(pk, scope)
        # Like punch cards: a storefront sees the active ones `challenges` lists.
        if challenge is None or not (
            challenge.status is ChallengeStatus.ACTIVE or principal.can_read_members
        ):
            return None
        return Challenge.from_record(challenge)
    if type_name == "Badge":
        badge = await badges_service.get_badge(pk, scope)
        if badge is None or not (badge.archived_at is None or principal.can_read_members):
            return None
        return Badge.from_record(badge)
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
    if type_name == "Segment":
        admin_in_query(info)
        segment = await segments_service.get_segment(pk, scope)
        return Segment.from_record(segment) if segment else None
    if type_name == "Experiment":
        admin_in_query(info)
        experiment = await experiments_service.get_experiment(pk, scope)
        return Experiment.from_record(experiment) if experiment else None
    if type_name == "ImportJob":
        admin_in_query(info)
        import_job = await import_jobs_service.get_import_job(pk, scope)
        return ImportJob.from_record(import_job) if import_job else None
    if type_name == "BulkOperation":
        admin_in_query(info)
        operation = await bulk_service.get_bulk_operation(pk, scope)
        return BulkOperation.from_record(operation) if operation else None
    if type_name == "BacktestJob":
        admin_in_query(info)
        backtest_job = await backtest_jobs_service.get_backtest_job(pk, scope)
        return BacktestJob.from_record(backtest_job) if backtest_job else None
    if type_name == "Event":
        admin_in_query(info)
        event = await events_service.get_event(pk)
        return Event.from_record(event) if event else None
    member_reader_in_query(info)
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


@strawberry.field(description="Any object by its global id; null when not found.")
async def node(info: Info, id: strawberry.ID) -> Node | None:
    decoded = decode_any_id(id)
    if decoded is None:
        decoded_in_query(id, "Node")
        return None
    return await _node(info, decoded[0], decoded[1])
