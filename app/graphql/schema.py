"""The schema and its protective extensions; `scripts/export-schema` writes it to schema.graphql.

The root types are put together here from the capabilities' fields (app/graphql/<capability>/
queries.py and mutations.py), in the order schema.graphql lists them: that order is what
clients and the checked-in schema see, so a new field goes where it belongs in it.
"""

from __future__ import annotations

import logging

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    MaxAliasesLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.tools import create_type
from strawberry.types import ExecutionContext
from strawberry.types.base import StrawberryObjectDefinition

from app.graphql import node
from app.graphql.access import mutations as access
from app.graphql.access import queries as access_queries
from app.graphql.actions import mutations as action_mutations
from app.graphql.actions import queries as action_queries
from app.graphql.actions.types import ActionRule
from app.graphql.analytics import queries as analytics_queries
from app.graphql.backtests import mutations as backtest_mutations
from app.graphql.backtests import queries as backtest_queries
from app.graphql.backtests.types import BacktestJob
from app.graphql.bulk import mutations as bulk_mutations
from app.graphql.bulk import queries as bulk_queries
from app.graphql.bulk.types import BulkOperation
from app.graphql.compiled import shared_and_unchanging
from app.graphql.core import audit_log, events, subscriptions
from app.graphql.core.audit import AuditAdminWrites
from app.graphql.core.document_limits import document_limits
from app.graphql.core.events import Event
from app.graphql.core.protection import (
    IntrospectionForAdminsInProduction,
    MaskErrorsWithRequestId,
    QueryCostLimit,
)
from app.graphql.engagement import mutations as engagement_mutations
from app.graphql.engagement import queries as engagement_queries
from app.graphql.engagement.types import Badge, Challenge
from app.graphql.experiments import mutations as experiment_mutations
from app.graphql.experiments import queries as experiment_queries
from app.graphql.experiments.types import Experiment
from app.graphql.imports import mutations as import_mutations
from app.graphql.imports import queries as import_queries
from app.graphql.imports.types import ImportJob
from app.graphql.members import mutations as member_mutations
from app.graphql.members import profile as member_profile
from app.graphql.members import queries as member_queries
from app.graphql.members.types import Activity, Member, Membership, Redemption
from app.graphql.memberships import mutations as membership_mutations
from app.graphql.memberships import queries as membership_queries
from app.graphql.memberships.types import MembershipPlan
from app.graphql.orders import mutations as order_mutations
from app.graphql.orders import queries as order_queries
from app.graphql.orders.types import EarningRule, Order
from app.graphql.programs import mutations as program_mutations
from app.graphql.programs import queries as program_queries
from app.graphql.programs.types import Program
from app.graphql.punch_cards import mutations as punch_card_mutations
from app.graphql.punch_cards import queries as punch_card_queries
from app.graphql.punch_cards.types import PunchCard
from app.graphql.referrals import mutations as referral_mutations
from app.graphql.referrals import queries as referral_queries
from app.graphql.rewards import mutations as reward_mutations
from app.graphql.rewards import queries as reward_queries
from app.graphql.rewards.types import Reward
from app.graphql.segments import mutations as segment_mutations
from app.graphql.segments import queries as segment_queries
from app.graphql.store_credit import mutations as store_credit_mutations
from app.graphql.store_credit.types import StoreCreditMovement
from app.graphql.tiers import mutations as tier_mutations
from app.graphql.tiers import queries as tier_queries
from app.graphql.tiers.types import Tier
from app.graphql.translations import mutations as translation_mutations
from app.graphql.translations import queries as translation_queries
from app.graphql.webhooks import mutations as webhook_mutations
from app.graphql.webhooks import queries as webhook_queries
from app.graphql.webhooks.types import WebhookDelivery, WebhookEndpoint

Query = create_type(
    "Query",
    [
        referral_queries.referral_settings,
        referral_queries.referrals,
        referral_queries.referral_stats,
        punch_card_queries.punch_cards,
        punch_card_queries.punch_card_settings,
        engagement_queries.challenges,
        engagement_queries.badges,
        tier_queries.tier_program,
        membership_queries.membership_plans,
        reward_queries.reward_catalogue,
        reward_queries.member_rewards,
        reward_queries.member_redemptions,
        reward_queries.validate_redemption_code,
        reward_queries.redemption_settings,
        reward_queries.charity_donations,
        node.node,
        program_queries.program,
        program_queries.programs,
        member_queries.me,
        member_queries.member,
        member_queries.member_by_customer_id,
        member_profile.member_lookup,
        member_profile.members,
        segment_queries.segments,
        segment_queries.segment_preview,
        member_profile.member_attributes,
        member_profile.member_data_export,
        reward_queries.rewards,
        audit_log.audit_log,
        translation_queries.translations,
        access_queries.viewer,
        events.events,
        analytics_queries.program_insights,
        analytics_queries.program_cohorts,
        order_queries.preview_order_points,
        order_queries.earning_rules,
        order_queries.order,
        action_queries.action_rules,
        action_queries.preview_action_points,
        webhook_queries.webhook_endpoints,
        webhook_queries.webhook_deliveries,
        webhook_queries.member_webhook_deliveries,
        webhook_queries.webhook_event_types,
        experiment_queries.experiments,
        experiment_queries.experiment_results,
        import_queries.import_job,
        bulk_queries.bulk_operation,
        backtest_queries.backtest_program,
        backtest_queries.member_what_if,
        backtest_queries.backtest_job,
    ],
)

Mutation = create_type(
    "Mutation",
    [
        referral_mutations.update_referral_settings,
        referral_mutations.record_referral,
        referral_mutations.approve_referral,
        referral_mutations.reject_referral,
        store_credit_mutations.issue_store_credit,
        store_credit_mutations.spend_store_credit,
        store_credit_mutations.refund_store_credit,
        punch_card_mutations.create_punch_card,
        punch_card_mutations.update_punch_card,
        punch_card_mutations.retire_punch_card,
        punch_card_mutations.set_punch_card_paused,
        punch_card_mutations.update_punch_card_settings,
        engagement_mutations.create_challenge,
        engagement_mutations.update_challenge,
        engagement_mutations.set_challenge_paused,
        engagement_mutations.archive_challenge,
        engagement_mutations.create_badge,
        engagement_mutations.update_badge,
        engagement_mutations.archive_badge,
        tier_mutations.configure_tiers,
        tier_mutations.assign_member_tier,
        tier_mutations.clear_member_tier_assignment,
        membership_mutations.upsert_membership_plan,
        membership_mutations.start_membership,
        membership_mutations.renew_membership,
        membership_mutations.cancel_membership,
        membership_mutations.membership_payment_failed,
        reward_mutations.create_reward,
        reward_mutations.update_reward,
        reward_mutations.retire_reward,
        reward_mutations.upload_reward_codes,
        reward_mutations.mark_redemption_used,
        reward_mutations.cancel_redemption,
        reward_mutations.update_redemption_settings,
        program_mutations.create_program,
        program_mutations.update_program_settings,
        program_mutations.register_trusted_documents,
        translation_mutations.set_translations,
        access.rotate_token_signing_secret,
        access.create_member_token,
        member_mutations.enroll_member,
        order_mutations.record_order,
        reward_mutations.redeem_reward,
        member_mutations.adjust_points,
        order_mutations.create_earning_rule,
        order_mutations.update_earning_rule,
        order_mutations.set_earning_rule_paused,
        order_mutations.refund_order,
        action_mutations.create_action_rule,
        action_mutations.update_action_rule,
        action_mutations.set_action_rule_paused,
        action_mutations.record_action,
        order_mutations.report_order_progress,
        member_mutations.set_member_opt_out,
        member_profile.update_member_profile,
        member_profile.set_member_attributes,
        member_profile.erase_member,
        webhook_mutations.create_webhook_endpoint,
        webhook_mutations.update_webhook_endpoint,
        webhook_mutations.rotate_webhook_secret,
        webhook_mutations.delete_webhook_endpoint,
        webhook_mutations.redeliver_webhook,
        webhook_mutations.redeliver_failed_webhooks,
        webhook_mutations.send_test_webhook,
        segment_mutations.create_segment,
        segment_mutations.update_segment,
        segment_mutations.archive_segment,
        segment_mutations.refresh_segment,
        experiment_mutations.create_experiment,
        experiment_mutations.start_experiment,
        experiment_mutations.stop_experiment,
        import_mutations.import_file,
        bulk_mutations.bulk_adjust_points,
        bulk_mutations.bulk_assign_tier,
        bulk_mutations.bulk_enroll_members,
        bulk_mutations.bulk_issue_reward,
        bulk_mutations.cancel_bulk_operation,
        backtest_mutations.start_backtest,
    ],
)

Subscription = create_type("Subscription", [subscriptions.member_updated, subscriptions.events])

# Built once: the validation cache is keyed on the rule classes, and these extensions make new
# classes each time they are constructed, which would make every request a cache miss.
DOCUMENT_CACHE_SIZE = 512
_LIMIT_RULES = [
    *QueryDepthLimiter(max_depth=10).validation_rules,
    *MaxAliasesLimiter(max_alias_count=30).validation_rules,
    QueryCostLimit,
]
_DocumentLimits = document_limits(max_tokens=5000, rules=_LIMIT_RULES)

logger = logging.getLogger("laurel.graphql")


class LaurelSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """The errors of an answer, as one line each at INFO: a bad document, refused input or
        a domain code is the client's business, not a fault of the server's (an unexpected
        error was logged with its traceback where it was masked, MaskErrorsWithRequestId)."""
        context = getattr(execution_context, "context", None)
        request_id = getattr(context, "request_id", "-")
        for error in errors:
            code = (error.extensions or {}).get("code") or "GRAPHQL_VALIDATION_FAILED"
            logger.info(
                "%s at %s (request id %s): %s",
                code,
                ".".join(map(str, error.path or [])) or "-",
                request_id,
                error.message,
                extra={"code": code, "request_id": request_id},
            )


schema = LaurelSchema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
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
        Challenge,
        Badge,
        StoreCreditMovement,
        Membership,
        MembershipPlan,
        Tier,
        WebhookEndpoint,
        WebhookDelivery,
        Experiment,
        ImportJob,
        BulkOperation,
        BacktestJob,
    ],
    extensions=[
        # Factories: Strawberry builds extensions per request. The two caches live at module
        # level, so they still hit across requests; without them Strawberry parses and
        # validates every request again (about 2 ms for a small mutation).
        # Before the caches: they parse and validate as their hooks are entered.
        _DocumentLimits,
        lambda: ParserCache(maxsize=DOCUMENT_CACHE_SIZE),
        lambda: ValidationCache(maxsize=DOCUMENT_CACHE_SIZE),
        IntrospectionForAdminsInProduction,
        AuditAdminWrites,
        MaskErrorsWithRequestId,
    ],
)

# Strawberry makes `ActivityEdge` from the generic Edge when it builds the schema. Ledger rows
# never change (see members/types.py), so their edges keep the answers plans complete for them.
_activity_edge_type = schema.get_type_by_name("ActivityEdge")
assert isinstance(_activity_edge_type, StrawberryObjectDefinition)
shared_and_unchanging(_activity_edge_type.origin)
