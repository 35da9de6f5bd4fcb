"""Staff roles: what an admin key with a role may do.

An admin key without a role is the owner's, as every admin key was before roles: everything.
A role narrows it. The API enforces this (app/graphql/core/roles.py names the permission of every
mutation), so a page that hides a button is a convenience, never the guard.

- owner: everything.
- marketing: read everything; configure the program (rules, campaigns, rewards, tiers, punch
  cards, segments, webhooks, experiments) and resend webhooks; no member changes, no
  personal-data export or erasure.
- support: read everything; change members (profile, tier, redemptions, referral reviews),
  export or erase a member's personal data, resend webhooks, adjust points up to its limit.
- read_only: read everything, change nothing.
"""

from __future__ import annotations

from enum import StrEnum

from app.domain.errors import DomainError, ErrorCode


class StaffRole(StrEnum):
    OWNER = "owner"
    MARKETING = "marketing"
    SUPPORT = "support"
    READ_ONLY = "read_only"


class Permission(StrEnum):
    # Program configuration: settings, rules, campaigns, rewards, tiers, segments, webhooks...
    CONFIGURE_PROGRAM = "configure_program"
    # Changing one member: profile, tier assignment, redemptions, referral reviews.
    MANAGE_MEMBERS = "manage_members"
    # Crediting or debiting points by hand (support: within its limit).
    ADJUST_POINTS = "adjust_points"
    # Exporting or erasing a member's personal data.
    PERSONAL_DATA = "personal_data"
    # Sending a webhook delivery again.
    RESEND_WEBHOOKS = "resend_webhooks"
    # What the store's backend does (orders, enrolments, redemptions, credit, member tokens).
    INTEGRATION = "integration"
    # The install itself: creating programs, signing secrets, trusted documents.
    ADMINISTER = "administer"


ROLE_PERMISSIONS: dict[StaffRole, frozenset[Permission]] = {
    StaffRole.OWNER: frozenset(Permission),
    StaffRole.MARKETING: frozenset({Permission.CONFIGURE_PROGRAM, Permission.RESEND_WEBHOOKS}),
    StaffRole.SUPPORT: frozenset(
        {
            Permission.MANAGE_MEMBERS,
            Permission.ADJUST_POINTS,
            Permission.PERSONAL_DATA,
            Permission.RESEND_WEBHOOKS,
        }
    ),
    StaffRole.READ_ONLY: frozenset(),
}

# A support key's largest adjustment (either way) when its key sets none.
DEFAULT_POINTS_ADJUSTMENT_LIMIT = 1000
MAX_POINTS_ADJUSTMENT_LIMIT = 1_000_000_000


def role_allows(role: StaffRole, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]


def require_permission(role: StaffRole, permission: Permission) -> None:
    if not role_allows(role, permission):
        raise DomainError(
            ErrorCode.FORBIDDEN,
            f"the {role.value} role may not do this (it needs {permission.value})",
        )


def check_points_adjustment(role: StaffRole, limit: int | None, points: int) -> None:
    """Only the owner adjusts without a limit; a support key within its own."""
    require_permission(role, Permission.ADJUST_POINTS)
    if role is StaffRole.OWNER:
        return
    allowed = DEFAULT_POINTS_ADJUSTMENT_LIMIT if limit is None else limit
    if abs(points) > allowed:
        raise DomainError(
            ErrorCode.POINTS_LIMIT_EXCEEDED,
            f"the {role.value} role may adjust at most {allowed} points at a time",
            ["input", "points"],
        )


def check_role_settings(role: StaffRole | None, limit: int | None) -> None:
    if limit is None:
        return
    if role is not StaffRole.SUPPORT:
        raise DomainError(
            ErrorCode.INVALID_VALUE,
            "a points adjustment limit belongs to a support key",
            ["pointsAdjustmentLimit"],
        )
    if not 0 <= limit <= MAX_POINTS_ADJUSTMENT_LIMIT:
        raise DomainError(
            ErrorCode.INVALID_VALUE,
            f"the points adjustment limit must be between 0 and {MAX_POINTS_ADJUSTMENT_LIMIT}",
            ["pointsAdjustmentLimit"],
        )
