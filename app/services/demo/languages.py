# ruff: noqa: RUF001 (Russian text, whose letters look like Latin ones)
"""The demo program in Swedish, Romanian and Russian (the seed guides' languages), with two
tiers, so the `<laurel-rewards>` demo page has something to translate and a tier to show."""

from __future__ import annotations

from app.db import connection, fetch_all
from app.domain.locales import TranslatableField, TranslatableKind
from app.domain.tiers import DowngradePolicy, TierMetric, TierPeriod
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

_TABLES = {
    TranslatableKind.PROGRAM: "programs",
    TranslatableKind.REWARD: "rewards",
    TranslatableKind.ACTION_RULE: "action_rules",
    TranslatableKind.TIER: "tiers",
}


async def add_demo_languages(program_slug: str, program_id: int) -> None:
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
