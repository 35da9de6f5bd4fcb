"""The words of the `<laurel-rewards>` widget (app/web/widget.py), from the same catalogues as
everything else Laurel says, so that one test checks them all.

The widget gets, for each shipped language, its texts and its plural texts by CLDR plural
category (`one`, `few`, `many`, `other`), which the browser's `Intl.PluralRules` chooses from:
gettext numbers its plural forms, the browser names them, and `plural_texts` maps one onto the
other by asking each form for a number of that category.
"""

from __future__ import annotations

from functools import cache

from babel import Locale
from babel.messages.plurals import get_plural

from app.services.messages.catalogue import (
    N_,
    NP_,
    SHIPPED_LANGUAGES,
    catalogue_translations,
)

TEXTS: dict[str, str] = {
    "title": N_("Rewards"),
    "loading": N_("Loading…"),
    "unavailable": N_("Rewards are unavailable right now."),
    "yourPoints": N_("Your points"),
    "tier": N_("Your tier"),
    "noTier": N_("No tier yet"),
    "rewardsNow": N_("Rewards you can redeem now"),
    "noRewards": N_("Nothing to redeem yet: keep earning!"),
    "redeem": N_("Redeem"),
    "redeeming": N_("Redeeming…"),
    "yourCode": N_("Your code"),
    "copy": N_("Copy"),
    "copied": N_("Copied"),
    "waysToEarn": N_("Ways to earn"),
    "refer": N_("Refer a friend"),
    "referText": N_("Share your link: you both get rewarded."),
    "copyLink": N_("Copy link"),
    "share": N_("Share"),
    "challenges": N_("Challenges"),
    "completed": N_("Completed"),
    "howItWorks": N_("How it works"),
    "step1": N_("Join for free"),
    "step2": N_("Earn points when you shop, review and refer friends"),
    "step3": N_("Spend your points on rewards"),
    "join": N_("Join now"),
    "signIn": N_("Already a member? Sign in"),
    "language": N_("Language"),
    "progress": N_("{progress} of {target}"),
}

PLURALS: dict[str, tuple[str, str]] = {
    "points": NP_("{count} point", "{count} points"),
    "pending": NP_("{count} point pending", "{count} points pending"),
    "expiry": NP_("{count} point expires on {date}", "{count} points expire on {date}"),
    "perUnit": NP_(
        "{count} point for every {amount} you spend", "{count} points for every {amount} you spend"
    ),
}

# Numbers tried to find one of each plural category (Russian needs 1, 2 and 5; Romanian 1, 2
# and 20; fractions have categories of their own that counts of points never reach).
_SAMPLES = range(0, 200)


@cache
def widget_messages(language: str) -> dict[str, object]:
    """The widget's texts in a shipped language: {"texts": {...}, "plurals": {key: {category:
    text}}}; `{count}` and the other placeholders are filled in by the widget."""
    translations = catalogue_translations(language)
    rule = Locale.parse(language).plural_form
    # Counts reach as many categories as gettext has forms (fractions reach the others).
    categories: dict[str, int] = {}
    for number in _SAMPLES:
        categories.setdefault(rule(number), number)
        if len(categories) == get_plural(language).num_plurals:
            break
    plurals = {
        key: {
            category: translations.ngettext(singular, plural, number)
            for category, number in categories.items()
        }
        for key, (singular, plural) in PLURALS.items()
    }
    return {
        "texts": {key: translations.gettext(text) for key, text in TEXTS.items()},
        "plurals": plurals,
    }


def all_widget_messages() -> dict[str, dict[str, object]]:
    return {language: widget_messages(language) for language in SHIPPED_LANGUAGES}
