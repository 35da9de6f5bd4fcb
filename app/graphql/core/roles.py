"""The permission every root mutation needs from a staff role (app/domain/roles.py).

The mutation mechanism (core/mutations.py) looks the field up here before its resolver runs, so
a refused write is a `FORBIDDEN` userError, audited as an attempt, and nothing is written. A
mutation missing from this table is refused to every role but the owner's, and a test fails
until it is named here. Other kinds of key (secret, publishable) have no role: their own checks
in the resolvers apply.
"""

from __future__ import annotations

from app.domain.roles import Permission, StaffRole, require_permission
from app.graphql.core.context import Info

_CONFIGURE = Permission.CONFIGURE_PROGRAM
_MEMBERS = Permission.MANAGE_MEMBERS
_INTEGRATION = Permission.INTEGRATION
_ADMINISTER = Permission.ADMINISTER

MUTATION_PERMISSIONS: dict[str, Permission] = {
    # The program and its configuration.
    "updateProgramSettings": _CONFIGURE,
    "createEarningRule": _CONFIGURE,
    "updateEarningRule": _CONFIGURE,
    "setEarningRulePaused": _CONFIGURE,
    "createActionRule": _CONFIGURE,
    "updateActionRule": _CONFIGURE,
    "setActionRulePaused": _CONFIGURE,
    "createReward": _CONFIGURE,
    "updateReward": _CONFIGURE,
    "retireReward": _CONFIGURE,
    "uploadRewardCodes": _CONFIGURE,
    "updateRedemptionSettings": _CONFIGURE,
    "configureTiers": _CONFIGURE,
    "createPunchCard": _CONFIGURE,
    "updatePunchCard": _CONFIGURE,
    "retirePunchCard": _CONFIGURE,
    "setPunchCardPaused": _CONFIGURE,
    "updatePunchCardSettings": _CONFIGURE,
    "createChallenge": _CONFIGURE,
    "updateChallenge": _CONFIGURE,
    "setChallengePaused": _CONFIGURE,
    "archiveChallenge": _CONFIGURE,
    "createBadge": _CONFIGURE,
    "updateBadge": _CONFIGURE,
    "archiveBadge": _CONFIGURE,
    "updateReferralSettings": _CONFIGURE,
    "upsertMembershipPlan": _CONFIGURE,
    "createSegment": _CONFIGURE,
    "updateSegment": _CONFIGURE,
    "archiveSegment": _CONFIGURE,
    "refreshSegment": _CONFIGURE,
    "createExperiment": _CONFIGURE,
    "startExperiment": _CONFIGURE,
    "stopExperiment": _CONFIGURE,
    "createWebhookEndpoint": _CONFIGURE,
    "updateWebhookEndpoint": _CONFIGURE,
    "rotateWebhookSecret": _CONFIGURE,
    "deleteWebhookEndpoint": _CONFIGURE,
    "sendTestWebhook": _CONFIGURE,
    "setTranslations": _CONFIGURE,
    # Resending what was already sent.
    "redeliverWebhook": Permission.RESEND_WEBHOOKS,
    "redeliverFailedWebhooks": Permission.RESEND_WEBHOOKS,
    # One member.
    "adjustPoints": Permission.ADJUST_POINTS,
    "assignMemberTier": _MEMBERS,
    "clearMemberTierAssignment": _MEMBERS,
    "cancelRedemption": _MEMBERS,
    "approveReferral": _MEMBERS,
    "rejectReferral": _MEMBERS,
    "setMemberOptOut": _MEMBERS,
    "updateMemberProfile": _MEMBERS,
    "setMemberAttributes": _MEMBERS,
    "eraseMember": Permission.PERSONAL_DATA,
    # What the store's backend does.
    "enrollMember": _INTEGRATION,
    "recordOrder": _INTEGRATION,
    "refundOrder": _INTEGRATION,
    "reportOrderProgress": _INTEGRATION,
    "recordAction": _INTEGRATION,
    "recordReferral": _INTEGRATION,
    "redeemReward": _INTEGRATION,
    "markRedemptionUsed": _INTEGRATION,
    "issueStoreCredit": _INTEGRATION,
    "spendStoreCredit": _INTEGRATION,
    "refundStoreCredit": _INTEGRATION,
    "startMembership": _INTEGRATION,
    "renewMembership": _INTEGRATION,
    "cancelMembership": _INTEGRATION,
    "membershipPaymentFailed": _INTEGRATION,
    "createMemberToken": _INTEGRATION,
    # The install.
    "createProgram": _ADMINISTER,
    "rotateTokenSigningSecret": _ADMINISTER,
    "registerTrustedDocuments": _ADMINISTER,
    # Members, orders and opening balances of a whole file: points move for many members.
    "importFile": _ADMINISTER,
    # Many members at once, each as its single-member mutation would be (a support key's
    # points limit holds for each member); a reward given to many members is the owner's call.
    "bulkAdjustPoints": Permission.ADJUST_POINTS,
    "bulkAssignTier": _MEMBERS,
    "bulkEnrollMembers": _INTEGRATION,
    "bulkIssueReward": _ADMINISTER,
    "cancelBulkOperation": _MEMBERS,
    # A backtest changes nothing of the program; it is the program's planners' tool.
    "startBacktest": _CONFIGURE,
}


def require_role_for_mutation(info: Info) -> None:
    """Refuses a staff key whose role lacks the permission of this root mutation."""
    role = info.context.principal.staff_role
    if role is None or role is StaffRole.OWNER:
        return
    require_permission(role, MUTATION_PERMISSIONS.get(info.field_name, Permission.ADMINISTER))


def require_role(info: Info, permission: Permission) -> None:
    """For queries that need more than reading (a member's data export)."""
    role = info.context.principal.staff_role
    if role is not None:
        require_permission(role, permission)
