# ruff: noqa: RUF001 (Russian text, whose letters look like Latin ones)
"""What the `<laurel-rewards>` demo page shows beyond the basics: two tiers, referrals, a
challenge, and the program's texts in Swedish, Romanian and Russian (the seed guides'
languages). Made before anyone enrols, so the members' orders count towards them."""

from __future__ import annotations

from datetime import datetime, timedelta

from app.db import connection, fetch_all
from app.domain.engagement import ChallengeGoal
from app.domain.locales import TranslatableField, TranslatableKind
from app.domain.referrals import ReferralTrigger, SideRule
from app.domain.tiers import DowngradePolicy, TierMetric, TierPeriod
from app.services.engagement.challenges import CreateChallengeInput, create_challenge
from app.services.referrals.service import UpdateReferralSettingsInput, update_settings
from app.services.tiers.configuration import ConfigureTiersInput, TierInput, configure_tiers
from app.services.translations.service import (
    SetTranslationsInput,
    TranslationChange,
    set_translations,
)

NAME = TranslatableField.NAME
DESCRIPTION = TranslatableField.DESCRIPTION
PERKS = TranslatableField.PERKS

HOW_IT_WORKS = {
    "en": "Earn a point for every euro you spend, and more for reviews and your birthday."
    " Spend them on discounts, free shipping and a tote bag.",
    "sv": "Få en poäng för varje euro du handlar för, och fler för recensioner och på din"
    " födelsedag. Använd dem på rabatter, fri frakt och en tygkasse.",
    "ro": "Primești un punct pentru fiecare euro cheltuit și mai multe pentru recenzii și de"
    " ziua ta. Folosește-le pentru reduceri, livrare gratuită și o sacoșă.",
    "ru": "Получайте балл за каждый потраченный евро и ещё больше за отзывы и в день рождения."
    " Обменивайте их на скидки, бесплатную доставку и сумку.",
}

# Configured name -> {locale: translation}.
NAMES: dict[tuple[TranslatableKind, str], dict[str, str]] = {
    (TranslatableKind.PROGRAM, "Demo Store Rewards"): {
        "sv": "Demobutikens förmåner",
        "ro": "Recompensele magazinului demo",
        "ru": "Бонусы демо-магазина",
    },
    (TranslatableKind.REWARD, "5 EUR off your next order"): {
        "sv": "5 EUR rabatt på nästa order",
        "ro": "5 EUR reducere la următoarea comandă",
        "ru": "Скидка 5 EUR на следующий заказ",
    },
    (TranslatableKind.REWARD, "Free shipping"): {
        "sv": "Fri frakt",
        "ro": "Livrare gratuită",
        "ru": "Бесплатная доставка",
    },
    (TranslatableKind.REWARD, "Canvas tote bag"): {
        "sv": "Tygkasse i canvas",
        "ro": "Sacoșă din pânză",
        "ru": "Холщовая сумка",
    },
    (TranslatableKind.ACTION_RULE, "Birthday treat"): {
        "sv": "Födelsedagsgåva",
        "ro": "Cadou de ziua ta",
        "ru": "Подарок на день рождения",
    },
    (TranslatableKind.ACTION_RULE, "Welcome"): {
        "sv": "Välkommen",
        "ro": "Bun venit",
        "ru": "Добро пожаловать",
    },
    (TranslatableKind.ACTION_RULE, "Product review"): {
        "sv": "Produktrecension",
        "ro": "Recenzie de produs",
        "ru": "Отзыв о товаре",
    },
    (TranslatableKind.CHALLENGE, "Five orders"): {
        "sv": "Fem ordrar",
        "ro": "Cinci comenzi",
        "ru": "Пять заказов",
    },
    (TranslatableKind.TIER, "Silver"): {"sv": "Silver", "ro": "Argint", "ru": "Серебро"},
    (TranslatableKind.TIER, "Gold"): {"sv": "Guld", "ro": "Aur", "ru": "Золото"},
}

TIER_PERKS: dict[str, dict[str, tuple[str, ...]]] = {
    "Silver": {
        "en": ("Free shipping on birthdays",),
        "sv": ("Fri frakt på födelsedagen",),
        "ro": ("Livrare gratuită de ziua ta",),
        "ru": ("Бесплатная доставка в день рождения",),
    },
    "Gold": {
        "en": ("Free shipping", "Early access to sales"),
        "sv": ("Fri frakt", "Tidig tillgång till rea"),
        "ro": ("Livrare gratuită", "Acces din timp la reduceri"),
        "ru": ("Бесплатная доставка", "Ранний доступ к распродажам"),
    },
}

CHALLENGE_TEXT = {
    "sv": "Lägg fem ordrar och få 150 extra poäng.",
    "ro": "Plasează cinci comenzi și primești 150 de puncte bonus.",
    "ru": "Сделайте пять заказов и получите 150 бонусных баллов.",
}

_TABLES = {
    TranslatableKind.PROGRAM: "programs",
    TranslatableKind.CHALLENGE: "challenges",
    TranslatableKind.REWARD: "rewards",
    TranslatableKind.ACTION_RULE: "action_rules",
    TranslatableKind.TIER: "tiers",
}


async def add_storefront_features(program_slug: str, program_id: int, now: datetime) -> None:
    await update_settings(
        UpdateReferralSettingsInput(
            program_slug=program_slug,
            enabled=True,
            url_template="https://demo-store.example/invite/{code}",
            referrer=SideRule(points=200, trigger=ReferralTrigger.FIRST_ORDER),
            friend=SideRule(points=100, trigger=ReferralTrigger.SIGNUP),
        )
    )
    await create_challenge(
        CreateChallengeInput(
            program_slug=program_slug,
            name="Five orders",
            description="Place five orders for 150 bonus points.",
            goal=ChallengeGoal.ORDER_COUNT,
            target=5,
            starts_at=now - timedelta(days=60),
            points=150,
        )
    )
    await configure_tiers(
        ConfigureTiersInput(
            program_slug=program_slug,
            metric=TierMetric.POINTS_EARNED,
            period=TierPeriod.LIFETIME,
            downgrade=DowngradePolicy.NEVER,
            tiers=tuple(
                TierInput(name=name, threshold=threshold, perks=TIER_PERKS[name]["en"])
                for name, threshold in (("Silver", 500), ("Gold", 2000))
            ),
        )
    )
    ids: dict[tuple[TranslatableKind, str], int] = {}
    for kind, table in _TABLES.items():
        owner = "id" if kind is TranslatableKind.PROGRAM else "program_id"
        for row in await fetch_all(
            connection(), f"SELECT id, name FROM {table} WHERE {owner} = ?", (program_id,)
        ):
            ids[(kind, str(row["name"]))] = int(row["id"])
    changes = [
        TranslationChange(kind, ids[(kind, name)], NAME, locale, text)
        for (kind, name), texts in NAMES.items()
        for locale, text in texts.items()
    ]
    changes += [
        TranslationChange(TranslatableKind.PROGRAM, program_id, DESCRIPTION, locale, text)
        for locale, text in HOW_IT_WORKS.items()
    ]
    challenge = ids[(TranslatableKind.CHALLENGE, "Five orders")]
    changes += [
        TranslationChange(TranslatableKind.CHALLENGE, challenge, DESCRIPTION, locale, text)
        for locale, text in CHALLENGE_TEXT.items()
    ]
    changes += [
        TranslationChange(
            TranslatableKind.TIER,
            ids[(TranslatableKind.TIER, tier)],
            PERKS,
            locale,
            "\n".join(perks),
        )
        for tier, by_locale in TIER_PERKS.items()
        for locale, perks in by_locale.items()
        if locale != "en"
    ]
    await set_translations(SetTranslationsInput(program_slug, tuple(changes)))
