"""Translations of what a program configures (names, descriptions, perks): set by admins, read
by the batch for every page the API answers (app/graphql/translations/).

The configured text stays in its own table, in the program's default locale; a row of
`translations` gives one field of one thing in one locale (docs/decisions/0003-translations.md).
Which text a reader gets is `app.domain.locales.pick`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import connection, execute, fetch_all, in_transaction, utc_now
from app.domain.errors import ErrorCode
from app.domain.locales import (
    DEFAULT_LOCALE,
    FIELDS_OF,
    TranslatableField,
    TranslatableKind,
    canonical_locale,
)
from app.domain.validation import NAME_MAX, TEXT_MAX, Checker, has_control_characters
from app.services.core.idempotency import checked_key, keyed_write, once_if_keyed
from app.services.programs.service import ProgramScope, in_scope, require_program

MAX_CHANGES = 500
# A tier's perks, one a line.
MAX_PERKS = 50

# The table each kind lives in, and the error its unknown id gets.
_TABLES: dict[TranslatableKind, tuple[str, ErrorCode]] = {
    TranslatableKind.PROGRAM: ("programs", ErrorCode.PROGRAM_NOT_FOUND),
    TranslatableKind.REWARD: ("rewards", ErrorCode.REWARD_NOT_FOUND),
    TranslatableKind.TIER: ("tiers", ErrorCode.TIER_NOT_FOUND),
    TranslatableKind.EARNING_RULE: ("earning_rules", ErrorCode.RULE_NOT_FOUND),
    TranslatableKind.ACTION_RULE: ("action_rules", ErrorCode.RULE_NOT_FOUND),
    TranslatableKind.CHALLENGE: ("challenges", ErrorCode.CHALLENGE_NOT_FOUND),
    TranslatableKind.BADGE: ("badges", ErrorCode.BADGE_NOT_FOUND),
}

# A thing of a program whose texts are asked for: (kind, its id, its program's id).
TextsKey = tuple[TranslatableKind, int, int]


@dataclass(frozen=True)
class Texts:
    """The translations of one thing, and the locale its configured texts are in."""

    default_locale: str
    # field -> locale -> text
    by_field: dict[TranslatableField, dict[str, str]] = field(default_factory=dict)

    def of(self, name: TranslatableField) -> dict[str, str]:
        return self.by_field.get(name, {})


async def texts_of(keys: Sequence[TextsKey]) -> dict[TextsKey, Texts]:
    """The translations of every key, with its program's default locale, in one statement (a
    page of rewards, or rewards and their tiers at once)."""
    distinct = list(dict.fromkeys(keys))
    if not distinct:
        return {}
    by_kind: dict[TranslatableKind, list[int]] = defaultdict(list)
    for kind, entity_id, _ in distinct:
        if entity_id not in by_kind[kind]:
            by_kind[kind].append(entity_id)
    program_ids = list(dict.fromkeys(program_id for _, _, program_id in distinct))
    matches = " OR ".join(
        f"(t.entity_kind = ? AND t.entity_id IN ({', '.join('?' * len(ids))}))"
        for ids in by_kind.values()
    )
    params: list[Any] = []
    for kind, ids in by_kind.items():
        params.extend([kind.value, *ids])
    params.extend(program_ids)
    rows = await fetch_all(
        connection(),
        "SELECT p.id AS program_id, p.default_locale, t.entity_kind, t.entity_id, t.field,"
        " t.locale, t.text FROM programs p LEFT JOIN translations t"
        f" ON t.program_id = p.id AND ({matches})"
        f" WHERE p.id IN ({', '.join('?' * len(program_ids))})",
        params,
    )
    defaults: dict[int, str] = {}
    found: dict[tuple[str, int, int], dict[TranslatableField, dict[str, str]]] = defaultdict(
        lambda: defaultdict(dict)
    )
    for row in rows:
        program_id = int(row["program_id"])
        defaults[program_id] = str(row["default_locale"])
        if row["entity_kind"] is None:
            continue
        key = (str(row["entity_kind"]), int(row["entity_id"]), program_id)
        found[key][TranslatableField(row["field"])][str(row["locale"])] = str(row["text"])
    result: dict[TextsKey, Texts] = {}
    for kind, entity_id, program_id in distinct:
        by_field = found.get((kind.value, entity_id, program_id), {})
        default_locale = defaults.get(program_id, DEFAULT_LOCALE)
        result[(kind, entity_id, program_id)] = Texts(default_locale, dict(by_field))
    return result


@dataclass(frozen=True)
class TranslationChange:
    """One field of one thing in one locale; `text` None removes the translation."""

    kind: TranslatableKind
    entity_id: int
    field: TranslatableField
    locale: str
    text: str | None


@dataclass(frozen=True)
class SetTranslationsInput:
    program_slug: str
    translations: tuple[TranslationChange, ...]
    idempotency_key: str | None = None


@dataclass(frozen=True)
class TranslationRecord:
    kind: TranslatableKind
    entity_id: int
    field: TranslatableField
    locale: str
    # None: removed.
    text: str | None


def _checked_changes(changes: tuple[TranslationChange, ...]) -> list[TranslationChange]:
    check = Checker()
    check.batch(
        ["input", "translations"],
        changes,
        MAX_CHANGES,
        f"set at most {MAX_CHANGES} translations at a time",
    )
    checked: list[TranslationChange] = []
    for index, change in enumerate(changes):
        at = ["input", "translations", str(index)]
        if change.field not in FIELDS_OF[change.kind]:
            allowed = ", ".join(sorted(FIELDS_OF[change.kind]))
            check.add(
                ErrorCode.INVALID_VALUE,
                f"a {change.kind.value} has no field {change.field.value}; it has {allowed}",
                [*at, "field"],
            )
            continue
        locale = canonical_locale(change.locale) if len(change.locale) <= 35 else None
        if locale is None:
            check.add(
                ErrorCode.INVALID_LOCALE,
                f"{change.locale[:40]!r} is no locale: use a language tag such as sv or sv-SE",
                [*at, "locale"],
            )
            continue
        text = change.text
        if text is not None:
            text = _checked_text(check, [*at, "text"], change.field, text)
            if text is None:
                continue
        checked.append(TranslationChange(change.kind, change.entity_id, change.field, locale, text))
    check.raise_if_any()
    return checked


def _checked_text(check: Checker, at: list[str], name: TranslatableField, text: str) -> str | None:
    if has_control_characters(text):
        check.add(ErrorCode.INVALID_VALUE, "text contains control characters", at)
        return None
    if name is TranslatableField.PERKS:
        perks = [line.strip() for line in text.splitlines() if line.strip()]
        if len(perks) > MAX_PERKS or any(len(perk) > NAME_MAX for perk in perks):
            check.add(
                ErrorCode.TOO_LONG,
                f"perks: at most {MAX_PERKS} lines of {NAME_MAX} characters",
                at,
            )
            return None
        return "\n".join(perks)
    stripped = text.strip()
    most = NAME_MAX if name is TranslatableField.NAME else TEXT_MAX
    if name is TranslatableField.NAME and not stripped:
        check.add(ErrorCode.REQUIRED, "a name cannot be empty (send null to remove it)", at)
        return None
    if len(stripped) > most:
        check.add(ErrorCode.TOO_LONG, f"text is longer than {most} characters", at)
        return None
    return stripped


async def _check_owned(
    conn: BaseDBAsyncClient, program_id: int, changes: Sequence[TranslationChange]
) -> None:
    """Every thing named is the program's (one statement a kind)."""
    wanted: dict[TranslatableKind, set[int]] = defaultdict(set)
    for change in changes:
        wanted[change.kind].add(change.entity_id)
    check = Checker()
    for kind, ids in wanted.items():
        table, code = _TABLES[kind]
        owner = "id" if kind is TranslatableKind.PROGRAM else "program_id"
        ordered = sorted(ids)
        rows = await fetch_all(
            conn,
            f"SELECT id FROM {table} WHERE {owner} = ? AND id IN ({', '.join('?' * len(ordered))})",
            [program_id, *ordered],
        )
        known = {int(row["id"]) for row in rows}
        for index, change in enumerate(changes):
            if change.kind is kind and change.entity_id not in known:
                check.add(
                    code,
                    f"the program has no {kind.value} with this id",
                    ["input", "translations", str(index), "id"],
                )
    check.raise_if_any()


async def set_translations(data: SetTranslationsInput) -> list[TranslationRecord]:
    """Writes (or removes) the translations, all or none; the last of several changes to one
    field and locale wins. Admins only (the API checks), so the audit log records it."""
    key = checked_key(data.idempotency_key)
    changes = _checked_changes(data.translations)
    program = await require_program(data.program_slug, None)
    now = utc_now()
    async with in_transaction() as conn:
        await _check_owned(conn, program.id, changes)

        async def perform() -> list[TranslationRecord]:
            for change in changes:
                names = (change.kind.value, change.entity_id, change.field.value, change.locale)
                if change.text is None:
                    await execute(
                        conn,
                        "DELETE FROM translations WHERE entity_kind = ? AND entity_id = ?"
                        " AND field = ? AND locale = ?",
                        names,
                    )
                else:
                    await execute(
                        conn,
                        "INSERT INTO translations (program_id, entity_kind, entity_id, field,"
                        " locale, text, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                        " ON CONFLICT (entity_kind, entity_id, field, locale)"
                        " DO UPDATE SET text = excluded.text, updated_at = excluded.updated_at",
                        (program.id, *names, change.text, now),
                    )
            return [_record(change) for change in changes]

        async def replay(stored: dict[str, Any]) -> list[TranslationRecord]:
            return [
                TranslationRecord(
                    TranslatableKind(item["kind"]),
                    int(item["entityId"]),
                    TranslatableField(item["field"]),
                    str(item["locale"]),
                    item["text"],
                )
                for item in stored["translations"]
            ]

        return await once_if_keyed(
            conn,
            **keyed_write(program.id, key, "setTranslations", data, now),
            perform=perform,
            remember=lambda made: {
                "translations": [
                    {
                        "kind": record.kind.value,
                        "entityId": record.entity_id,
                        "field": record.field.value,
                        "locale": record.locale,
                        "text": record.text,
                    }
                    for record in made
                ]
            },
            replay=replay,
        )


def _record(change: TranslationChange) -> TranslationRecord:
    return TranslationRecord(
        change.kind, change.entity_id, change.field, change.locale, change.text
    )


async def translations_of(
    kind: TranslatableKind, entity_id: int, scope: ProgramScope
) -> list[TranslationRecord]:
    """Every translation of one thing the caller's scope may read, by field then locale (what
    an admin edits)."""
    rows = await fetch_all(
        connection(),
        "SELECT program_id, field, locale, text FROM translations WHERE entity_kind = ?"
        " AND entity_id = ? ORDER BY field, locale",
        (kind.value, entity_id),
    )
    return [
        TranslationRecord(
            kind, entity_id, TranslatableField(row["field"]), str(row["locale"]), str(row["text"])
        )
        for row in rows
        if in_scope(int(row["program_id"]), scope)
    ]
