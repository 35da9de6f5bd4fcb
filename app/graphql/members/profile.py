"""Members as the store's staff and systems know them: the profile, lookups by what a channel
knows (customer id, e-mail, phone, loyalty card), the member list with filters, the program's
member attributes, and a member's rights over their data (export and erasure)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from app.domain.member_profile import AttributeDefinition as AttributeRecord
from app.domain.member_profile import AttributeType
from app.domain.orders import OrderChannel
from app.domain.roles import Permission
from app.graphql.core.admin_writes import RecordPayloads
from app.graphql.core.connection import (
    Connection,
    Edges,
    SortedEdges,
    page_size,
)
from app.graphql.core.context import Info, admin, member_reader
from app.graphql.core.errors import UserError, as_query_errors
from app.graphql.core.ids import decode_id
from app.graphql.core.mutations import mutation, optional_idempotency_key
from app.graphql.core.programs import program_keyset_page, program_list, readable_program_list
from app.graphql.core.query_checks import (
    admin_in_query,
    decoded_in_query,
    member_reader_in_query,
)
from app.graphql.core.roles import require_role
from app.graphql.members.types import Member
from app.services.members import directory, erasure
from app.services.members import profile as profile_service
from app.services.members.directory import LookupBy, MemberFilter, MemberOrder
from app.services.members.profile import ProfileChanges

strawberry.enum(AttributeType, description="The type of a member attribute's values.")
strawberry.enum(MemberOrder, name="MemberListOrder")


@strawberry.type(description="One of the program's own member attributes.")
class MemberAttribute:
    name: str
    type: AttributeType
    description: str

    @classmethod
    def from_record(cls, record: AttributeRecord) -> MemberAttribute:
        return cls(name=record.name, type=record.type, description=record.description)


@strawberry.input(description="Fields left out stay as they are; null clears a field.")
class UpdateMemberProfileInput:
    member_id: strawberry.ID
    email: str | None = strawberry.UNSET
    name: str | None = strawberry.UNSET
    birthday: date | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    locale: str | None = strawberry.UNSET
    marketing_consent: bool | None = strawberry.UNSET
    tags: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="Replaces the member's tags (lowercased)."
    )
    attributes: JSON | None = strawberry.field(
        default=strawberry.UNSET,
        description="Changes the attributes named (null removes one's value); others stay.",
    )
    card_number: str | None = strawberry.UNSET
    idempotency_key: str | None = optional_idempotency_key()


def _not_unset(value: Any) -> bool:
    return value is not strawberry.UNSET


def changes_of(source: Any, *, sent: Callable[[Any], bool] = _not_unset) -> ProfileChanges:
    """The profile fields an input sent: by default those not UNSET (null clears a field)."""
    changes = ProfileChanges.of(source, sent=sent)
    if changes.attributes is not None and not isinstance(changes.attributes, dict):
        # JSON that is not an object: refused as an attribute without a name, with its path.
        return replace(changes, attributes={"": changes.attributes})
    return changes


@strawberry.type
class MemberProfilePayload:
    member: Member | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


_members = RecordPayloads("Member", Member.from_record, MemberProfilePayload, "member")


@strawberry.input
class EraseMemberInput:
    member_id: strawberry.ID


@strawberry.input
class MemberAttributeInput:
    name: str
    type: AttributeType
    description: str = ""


@strawberry.input
class SetMemberAttributesInput:
    program_slug: str
    attributes: list[MemberAttributeInput] = strawberry.field(
        description="The whole list: attributes left out are no longer defined (their values"
        " stay stored, hidden, until defined again)."
    )


@strawberry.type
class SetMemberAttributesPayload:
    attributes: list[MemberAttribute] | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@mutation(description="Change a member's profile (secret and admin keys).")
async def update_member_profile(
    info: Info, input: UpdateMemberProfileInput
) -> MemberProfilePayload:
    principal = member_reader(info)
    record = await profile_service.update_member_profile(
        profile_service.UpdateMemberProfileInput(
            member_id=decode_id(input.member_id, "Member", ["input", "memberId"]),
            changes=changes_of(input),
            idempotency_key=input.idempotency_key,
        ),
        principal.program_scope,
    )
    return MemberProfilePayload(member=Member.from_record(record))


@mutation(
    description="Admin only: erase a member's personal data (a right-to-erasure request). The"
    " balances and the ledger stay, anonymised; the member stops earning. Erasing again"
    " changes nothing."
)
async def erase_member(info: Info, input: EraseMemberInput) -> MemberProfilePayload:
    return await _members.by_id(
        admin(info), input.member_id, erasure.erase_member, field="memberId"
    )


@mutation(description="Admin only: define the program's own member attributes.")
async def set_member_attributes(
    info: Info, input: SetMemberAttributesInput
) -> SetMemberAttributesPayload:
    principal = admin(info)
    definitions = await profile_service.set_member_attributes(
        input.program_slug,
        tuple(
            AttributeRecord(name=item.name, type=item.type, description=item.description)
            for item in input.attributes
        ),
        principal.program_scope,
    )
    return SetMemberAttributesPayload(
        attributes=[MemberAttribute.from_record(item) for item in definitions]
    )


@strawberry.field(description="The program's own member attributes.")
async def member_attributes(info: Info, program_slug: str) -> list[MemberAttribute]:
    return await readable_program_list(
        info, program_slug, profile_service.get_attribute_definitions, MemberAttribute.from_record
    )


@strawberry.field(
    description="The members one of customerId, email, phone or cardNumber names (a shared"
    " e-mail or phone may name several): what a till, an app or a support desk knows of a"
    " customer. E-mail is matched whatever its case, phone whatever its spacing."
)
async def member_lookup(
    info: Info,
    program_slug: str,
    customer_id: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    card_number: str | None = None,
) -> list[Member]:
    principal = member_reader_in_query(info)
    with as_query_errors():
        by, value = directory.require_one_lookup(
            {
                LookupBy.CUSTOMER_ID: customer_id,
                LookupBy.EMAIL: email,
                LookupBy.PHONE: phone,
                LookupBy.CARD_NUMBER: card_number,
            }
        )
    return await program_list(
        program_slug,
        principal.program_scope,
        lambda program_id: directory.look_up_members(program_id, by, value),
        Member.from_record,
    )


@strawberry.input(description="Every condition given must hold.")
class MemberListFilter:
    search: str | None = strawberry.field(
        default=None,
        description="The start of a customer id, card number, phone, e-mail or any word of a"
        " name, whatever the case.",
    )
    tier: str | None = strawberry.field(default=None, description="Members holding this tier.")
    segment: str | None = strawberry.field(
        default=None, description="Members in the segment with this key (as last kept)."
    )
    tag: str | None = None
    points_at_least: int | None = None
    points_at_most: int | None = None
    enrolled_after: datetime | None = None
    enrolled_before: datetime | None = None
    last_order_after: datetime | None = strawberry.field(
        default=None, description="Members with an order placed at or after this time."
    )
    last_order_before: datetime | None = strawberry.field(
        default=None,
        description="Members who have ordered, but not at or after this time (lapsed).",
    )
    channel: OrderChannel | None = strawberry.field(
        default=None, description="Members with an order placed through this channel."
    )
    opted_out: bool | None = None
    include_erased: bool = False


_member_edges = Edges("Member", Member.from_record)


@strawberry.field(
    description="The program's members, newest first unless asked otherwise, with filters"
    " (secret and admin keys)."
)
async def members(
    info: Info,
    program_slug: str,
    filter: MemberListFilter | None = None,
    order_by: MemberOrder = MemberOrder.NEWEST_FIRST,
    first: int = 50,
    after: str | None = None,
) -> Connection[Member] | None:
    principal = member_reader_in_query(info)
    page_size(first)
    given = filter or MemberListFilter()
    member_filter = MemberFilter(
        search=given.search,
        tier=given.tier,
        segment=given.segment,
        tag=given.tag,
        points_at_least=given.points_at_least,
        points_at_most=given.points_at_most,
        enrolled_after=given.enrolled_after,
        enrolled_before=given.enrolled_before,
        last_order_after=given.last_order_after,
        last_order_before=given.last_order_before,
        channel=given.channel,
        opted_out=given.opted_out,
        include_erased=given.include_erased,
    )
    with as_query_errors():
        directory.check_filter(member_filter)
    sort = directory.SORT_COLUMN.get(order_by)
    edges = (
        _member_edges
        if sort is None
        else SortedEdges(
            "Member",
            order_by.value,
            # A member record's fields are named as its columns.
            lambda record: int(getattr(record, sort[0])),
            Member.from_record,
        )
    )
    return await program_keyset_page(
        program_slug,
        principal.program_scope,
        lambda program_id, position, limit: directory.list_members(
            program_id, member_filter, order_by, after=position, limit=limit
        ),
        first=first,
        after=after,
        edges=edges,
    )


@strawberry.field(
    description="Admin only: everything Laurel holds of a member, as JSON (an access request):"
    " member, profile, activity, orders, redemptions and tier changes. Staff roles: owner and"
    " support."
)
async def member_data_export(info: Info, id: strawberry.ID) -> JSON | None:
    principal = admin_in_query(info)
    member_id = decoded_in_query(id, "Member")
    with as_query_errors():
        # Personal data: not for the marketing or read-only roles.
        require_role(info, Permission.PERSONAL_DATA)
        exported = await erasure.export_member_data(member_id, principal.program_scope)
    return JSON(exported)
