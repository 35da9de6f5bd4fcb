"""Who the caller is: its kind of key and, for an admin key, its staff role."""

from __future__ import annotations

import strawberry

from app.auth.api_keys import KeyKind
from app.domain.roles import DEFAULT_POINTS_ADJUSTMENT_LIMIT, StaffRole
from app.graphql.core.context import Info

ApiKeyKind = strawberry.enum(KeyKind, name="ApiKeyKind")
StaffRoleEnum = strawberry.enum(StaffRole, name="StaffRole")


@strawberry.type(description="The API key making this request.")
class Viewer:
    kind: ApiKeyKind  # type: ignore[valid-type]
    role: StaffRoleEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="An admin key's staff role (OWNER when it has none); null for other kinds."
    )
    points_adjustment_limit: int | None = strawberry.field(
        description="The most points one adjustPoints may move either way; null: no limit"
        " (the owner), or no adjusting at all (read the role)."
    )


@strawberry.field(description="The key making this request: what a console may offer it.")
def viewer(info: Info) -> Viewer:
    principal = info.context.principal
    role = principal.staff_role
    limit = None
    if role is StaffRole.SUPPORT:
        limit = principal.points_adjustment_limit
        if limit is None:
            limit = DEFAULT_POINTS_ADJUSTMENT_LIMIT
    return Viewer(kind=principal.kind, role=role, points_adjustment_limit=limit)
