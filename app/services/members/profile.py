"""A member's profile: contact details, locale, marketing consent, tags, the program's own
attributes and a loyalty card number (rules in app/domain/member_profile.py).

Read apart from the member's balances: member status, the hot path, never pays for it. Every
field is personal data: the audit log keeps none of it (app/services/audit/service.py) and
`eraseMember` (app/services/members/erasure.py) removes it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError

from app.db import (
    as_date,
    as_optional_datetime,
    connection,
    execute,
    fetch_all_in,
    fetch_one,
    from_json,
    in_transaction,
    utc_now,
)
from app.domain.errors import DomainError, ErrorCode
from app.domain.ids import encode_id
from app.domain.member_profile import (
    CONTACT_FIELDS,
    AttributeDefinition,
    checked_attributes,
    checked_card_number,
    checked_definitions,
    checked_locale,
    checked_phone,
    checked_tags,
    is_email,
    merged_attributes,
)
from app.domain.validation import EMAIL_MAX, NAME_MAX, Checker
from app.services.core.events import append_event
from app.services.core.idempotency import once_if_keyed
from app.services.ledger.service import lock_member_row
from app.services.members.service import MemberRecord, get_member, require_member
from app.services.programs.service import ProgramScope, require_program

SEARCH_TERM_MAX = 254
PROFILE_COLUMNS = (
    "id, email, name, birthday, phone, locale, marketing_consent, marketing_consent_at, tags,"
    " attributes, card_number, erased_at"
)


@dataclass(frozen=True)
class MemberProfile:
    member_id: int
    email: str | None
    name: str | None
    birthday: date | None
    phone: str | None
    locale: str | None
    marketing_consent: bool
    marketing_consent_at: datetime | None
    tags: tuple[str, ...]
    attributes: dict[str, Any]
    card_number: str | None
    erased_at: datetime | None


def profile_row(row: dict[str, Any]) -> MemberProfile:
    return MemberProfile(
        member_id=int(row["id"]),
        email=row["email"],
        name=row["name"],
        birthday=as_date(row["birthday"]),
        phone=row["phone"],
        locale=row["locale"],
        marketing_consent=bool(row["marketing_consent"]),
        marketing_consent_at=as_optional_datetime(row["marketing_consent_at"]),
        tags=tuple(from_json(row["tags"]) or ()),
        attributes=dict(from_json(row["attributes"]) or {}),
        card_number=row["card_number"],
        erased_at=as_optional_datetime(row["erased_at"]),
    )


async def profiles_by_member(member_ids: Sequence[int]) -> dict[int, MemberProfile]:
    """Each member's profile, for a page of members in one statement (the DataLoader's)."""
    rows = await fetch_all_in(
        connection(), f"SELECT {PROFILE_COLUMNS} FROM members", "id", member_ids
    )
    return {profile.member_id: profile for profile in map(profile_row, rows)}


async def get_profile(member_id: int) -> MemberProfile:
    row = await fetch_one(
        connection(), f"SELECT {PROFILE_COLUMNS} FROM members WHERE id = ?", (member_id,)
    )
    assert row is not None
    return profile_row(row)


# The profile fields a write may send, as the service and the API's inputs name them.
PROFILE_FIELDS = (*CONTACT_FIELDS, "tags", "attributes", "card_number")


@dataclass(frozen=True)
class ProfileChanges:
    """What the store sends; `given` names the fields it sent (null clears a field, a field
    left out stays as it is). `attributes` changes the named attributes only."""

    email: str | None = None
    name: str | None = None
    birthday: date | None = None
    phone: str | None = None
    locale: str | None = None
    marketing_consent: bool | None = None
    tags: tuple[str, ...] | None = None
    attributes: dict[str, Any] | None = None
    card_number: str | None = None
    # Sorted, so that an idempotent request's fingerprint is the same in every process.
    given: tuple[str, ...] = ()

    @classmethod
    def of(cls, source: object, *, sent: Callable[[Any], bool]) -> ProfileChanges:
        """The profile fields of an input object that `sent` says were sent."""
        given = tuple(
            sorted(n for n in PROFILE_FIELDS if hasattr(source, n) and sent(getattr(source, n)))
        )

        def value(name: str) -> Any:
            return getattr(source, name) if name in given else None

        tags = value("tags")
        return cls(
            **{name: value(name) for name in PROFILE_FIELDS if name != "tags"},
            tags=None if tags is None else tuple(tags),
            given=given,
        )

    def without(self, name: str) -> ProfileChanges:
        return replace(self, given=tuple(n for n in self.given if n != name))


@dataclass(frozen=True)
class CheckedProfile:
    """Column values to write, by column."""

    columns: dict[str, Any]

    def names(self) -> list[str]:
        return sorted(self.columns)


def check_profile(
    check: Checker,
    changes: ProfileChanges,
    definitions: list[AttributeDefinition],
    now: datetime,
    current_attributes: dict[str, Any] | None = None,
) -> CheckedProfile:
    """The columns `changes` sets, each checked; problems go to `check` under `input`."""
    columns: dict[str, Any] = {}
    given = changes.given

    def at(name: str) -> list[str]:
        return ["input", name]

    if "email" in given:
        email = check.text(at("email"), changes.email, EMAIL_MAX, required=False)
        if email is not None and not is_email(email):
            check.add(ErrorCode.INVALID_VALUE, "email is not an email address", at("email"))
        columns["email"] = email
        columns["email_lower"] = None if email is None else email.lower()
    if "name" in given:
        name = check.text(at("name"), changes.name, NAME_MAX, required=False)
        columns["name"] = name
    if "birthday" in given:
        if changes.birthday is not None and changes.birthday > now.date():
            check.add(ErrorCode.INVALID_VALUE, "birthday is in the future", at("birthday"))
        columns["birthday"] = changes.birthday
        columns["birthday_month_day"] = (
            None
            if changes.birthday is None
            else changes.birthday.month * 100 + changes.birthday.day
        )
    if "phone" in given:
        columns["phone"] = checked_phone(check, at("phone"), changes.phone)
    if "locale" in given:
        columns["locale"] = checked_locale(check, at("locale"), changes.locale)
    if "card_number" in given:
        columns["card_number"] = checked_card_number(check, at("cardNumber"), changes.card_number)
    if "marketing_consent" in given:
        consent = bool(changes.marketing_consent)
        columns["marketing_consent"] = consent
        columns["marketing_consent_at"] = now if consent else None
    if "tags" in given:
        columns["tags"] = json.dumps(checked_tags(check, at("tags"), changes.tags or ()))
    if "attributes" in given:
        values = checked_attributes(check, at("attributes"), changes.attributes or {}, definitions)
        columns["attributes"] = json.dumps(merged_attributes(current_attributes or {}, values))
    return CheckedProfile(columns)


def search_terms(row: dict[str, Any]) -> set[str]:
    """What the staff's search finds a member by, each searched by prefix whatever its case
    (app/services/members/directory.py): each word of the name, the e-mail, the customer id,
    the card number and the phone."""
    terms = set((row["name"] or "").lower().split())
    for column in ("email", "customer_id", "card_number", "phone"):
        if row[column]:
            terms.add(str(row[column]).lower())
    return {term[:SEARCH_TERM_MAX] for term in terms}


async def index_for_search(conn: BaseDBAsyncClient, member_id: int) -> None:
    """The member's search terms, made again from the member row as the transaction has it."""
    row = await fetch_one(
        conn,
        "SELECT program_id, name, email, customer_id, card_number, phone FROM members WHERE id = ?",
        (member_id,),
    )
    assert row is not None
    await replace_search_terms(conn, int(row["program_id"]), member_id, search_terms(row))


async def replace_search_terms(
    conn: BaseDBAsyncClient, program_id: int, member_id: int, terms: set[str]
) -> None:
    await execute(conn, "DELETE FROM member_search_terms WHERE member_id = ?", (member_id,))
    for term in sorted(terms):
        await execute(
            conn,
            "INSERT INTO member_search_terms (program_id, member_id, term) VALUES (?, ?, ?)",
            (program_id, member_id, term),
        )


async def attribute_definitions(
    conn: BaseDBAsyncClient, program_id: int
) -> list[AttributeDefinition]:
    row = await fetch_one(
        conn, "SELECT member_attributes FROM programs WHERE id = ?", (program_id,)
    )
    assert row is not None
    return [AttributeDefinition.from_json(item) for item in from_json(row["member_attributes"])]


def card_number_taken(exc: IntegrityError) -> bool:
    return "card_number" in str(exc)


def card_number_taken_error() -> DomainError:
    return DomainError(
        ErrorCode.CARD_NUMBER_TAKEN,
        "another member of the program has this card number",
        ["input", "cardNumber"],
    )


@dataclass(frozen=True)
class UpdateMemberProfileInput:
    member_id: int
    changes: ProfileChanges
    idempotency_key: str | None = None


async def update_member_profile(
    data: UpdateMemberProfileInput, scope: ProgramScope
) -> MemberRecord:
    check = Checker()
    check.idempotency_key(data.idempotency_key, required=False)
    check.raise_if_any()
    member = await require_member(data.member_id, scope)
    now = utc_now()
    try:
        async with in_transaction() as conn:
            current = await locked_profile(conn, member.id)
            if current.erased_at is not None:
                raise DomainError(
                    ErrorCode.MEMBER_ERASED, "the member was erased", ["input", "memberId"]
                )
            definitions = await attribute_definitions(conn, member.program_id)
            checked = check_profile(check, data.changes, definitions, now, current.attributes)
            check.raise_if_any()

            async def perform() -> None:
                await _write_profile(conn, member, checked, data.changes.given, now)

            await once_if_keyed(
                conn,
                program_id=member.program_id,
                key=data.idempotency_key,
                operation="updateMemberProfile",
                payload={"memberId": member.id, "changes": _changes_payload(data)},
                now=now,
                perform=perform,
                remember=lambda _: {"memberId": member.id},
                replay=_nothing_to_replay,
            )
    except IntegrityError as exc:
        if card_number_taken(exc):
            raise card_number_taken_error() from exc
        raise
    updated = await get_member(member.id, scope)
    assert updated is not None
    return updated


async def _nothing_to_replay(stored: dict[str, Any]) -> None:
    """A replay answers with the member as it is now, like the first answer did."""


def _changes_payload(data: UpdateMemberProfileInput) -> dict[str, Any]:
    changes = data.changes
    return {
        name: str(getattr(changes, name))
        for name in sorted(changes.given)
        if hasattr(changes, name)
    }


async def locked_profile(conn: BaseDBAsyncClient, member_id: int) -> MemberProfile:
    """The member's profile as their row is locked (the first thing every writer of a member
    does, services/ledger), as strongly as a change of the card number or the customer id
    needs."""
    row = await lock_member_row(conn, member_id, PROFILE_COLUMNS, changes_keys=True)
    assert row is not None
    return profile_row(row)


async def _write_profile(
    conn: BaseDBAsyncClient,
    member: MemberRecord,
    checked: CheckedProfile,
    given: tuple[str, ...],
    now: datetime,
) -> None:
    names = checked.names()
    if not names:
        return
    await execute(
        conn,
        f"UPDATE members SET {', '.join(f'{name} = ?' for name in names)} WHERE id = ?",
        (*(checked.columns[name] for name in names), member.id),
    )
    if {"name", "email", "card_number", "phone"} & set(names):
        await index_for_search(conn, member.id)
    await append_event(
        conn,
        program_id=member.program_id,
        member_id=member.id,
        event_type="member.updated",
        payload={
            "memberId": encode_id("Member", member.id),
            "changed": sorted(_api_name(name) for name in given),
        },
        now=now,
    )


def _api_name(field: str) -> str:
    """A profile field as the API names it (card_number: cardNumber)."""
    head, *rest = field.split("_")
    return head + "".join(part.title() for part in rest)


async def set_member_attributes(
    program_slug: str, definitions: tuple[AttributeDefinition, ...], scope: ProgramScope
) -> list[AttributeDefinition]:
    """Replace the program's attribute definitions. Members' values of an attribute no longer
    defined stay stored but are not shown or matched until it is defined again."""
    check = Checker()
    checked = checked_definitions(check, ["input", "attributes"], definitions)
    check.raise_if_any()
    program = await require_program(program_slug, scope, ["input", "programSlug"])
    async with in_transaction() as conn:
        await fetch_one(
            conn,
            "UPDATE programs SET member_attributes = ? WHERE id = ? RETURNING id",
            (json.dumps([definition.as_json() for definition in checked]), program.id),
        )
        await append_event(
            conn,
            program_id=program.id,
            member_id=None,
            event_type="program.updated",
            payload={"memberAttributes": [definition.name for definition in checked]},
            now=utc_now(),
        )
    return checked


async def get_attribute_definitions(program_id: int) -> list[AttributeDefinition]:
    return await attribute_definitions(connection(), program_id)
