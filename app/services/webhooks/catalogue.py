"""The events a webhook endpoint can ask for: every outbox event type, with what it means.
Each body is `{"type", "timestamp", "data"}`; `data` holds `eventId`, `program` (`id`,
`slug`), `member` (`id`, `customerId`, `locale`, or null) and the fields of the type
(docs/webhooks/event.schema.json, tested against real payloads)."""

from __future__ import annotations

EVENT_TYPES: dict[str, str] = {
    "member.enrolled": "A customer joined the program.",
    "member.opted_in": "A member opted back in to earning.",
    "member.opted_out": "A member opted out: no earning, no messages.",
    "member.updated": "A member's profile changed (`changed` names the fields, never their"
    " values: the store reads them with its keys).",
    "member.erased": "A member's personal data was erased (eraseMember); the balances stay.",
    "member.birthday": "It is a member's birthday in the program's time zone (`celebratedOn`,"
    " `age`); once a year, whether or not a birthday rule gives points.",
    "points.earned": "Spendable points earned (an order, an action, a referral, a punch card,"
    " a tier or membership reward).",
    "points.pending": "Points earned that become spendable at `maturesAt` (the program's"
    " pending period, e.g. until the return window closes); `points.matured` follows.",
    "points.matured": "Pending points became spendable.",
    "points.spent": "Points spent on a reward.",
    "points.returned": "A cancelled redemption gave its points back.",
    "points.adjusted": "An admin added or took points (`description` is what the member sees).",
    "points.imported": "An opening balance from another program was imported (its lots keep"
    " their expiry dates).",
    "points.reversed": "A refund took back points an order earned.",
    "points.debt_recovered": "Earnings repaid points a refund left owed.",
    "points.expiring": "Points will expire soon (the program's warning days before): amount"
    " and date.",
    "points.expired": "Points expired.",
    "order.recorded": "An order was reported.",
    "order.paid": "An order was marked paid.",
    "order.fulfilled": "An order was marked fulfilled.",
    "order.refunded": "An order was refunded, in part or whole.",
    "order.cancelled": "An order was cancelled.",
    "reward.created": "A reward was added to the catalogue.",
    "reward.updated": "A reward was changed.",
    "reward.retired": "A reward was retired.",
    "reward.codes_uploaded": "Codes were uploaded to a reward's pool.",
    "reward.redeemed": "A member redeemed a reward (its code, if any).",
    "redemption.used": "A redemption's code was used at checkout (`orderId`).",
    "redemption.cancelled": "A redemption was cancelled (`pointsReturned`).",
    "redemption.expired": "A redemption's code expired unused (`pointsReturned`).",
    "tier.changed": "A member moved up or down a tier (`reason`).",
    "tier.assigned": "An admin assigned a member a tier.",
    "tier.assignment_cleared": "An admin's tier assignment ended.",
    "tiers.configured": "The program's tiers were changed.",
    "membership.started": "A paid membership started.",
    "membership.renewed": "A paid membership was renewed.",
    "membership.cancelled": "A paid membership was cancelled.",
    "membership.ended": "A paid membership ended.",
    "membership.payment_failed": "A membership payment failed.",
    "membership.welcome_reward_failed": "A membership's welcome reward could not be given.",
    "referral.created": "A referral code was used by a new customer.",
    "referral.signed_up": "A referred customer joined.",
    "referral.qualified": "A referred customer's order qualified.",
    "referral.held": "A referral is held for review.",
    "referral.approved": "A held referral was approved.",
    "referral.rejected": "A referral was rejected.",
    "referral.rewarded": "A referral's rewards were given.",
    "referral.reward_failed": "A referral's reward could not be given.",
    "referral_settings.updated": "The program's referral settings changed.",
    "punch_card.created": "A punch card was added.",
    "punch_card.updated": "A punch card was changed.",
    "punch_card.retired": "A punch card was retired.",
    "punch_card.punched": "A member's card got punches.",
    "punch_card.punches_removed": "A refund removed punches.",
    "punch_card.completed": "A card was completed and its reward given.",
    "punch_card.reward_failed": "A completed card's reward could not be given.",
    "punch_card.reward_cancelled": "A refund cancelled a card's reward.",
    "punch_card.settings_updated": "The program's punch card settings changed.",
    "segment.entered": "A member entered a segment (`segmentKey`, `segmentVersion`).",
    "segment.left": "A member left a segment (`segmentKey`, `segmentVersion`).",
    "challenge.created": "A challenge was added.",
    "challenge.updated": "A challenge was changed.",
    "challenge.paused": "A challenge was paused: it counts nothing until resumed.",
    "challenge.resumed": "A paused challenge counts again.",
    "challenge.archived": "A challenge was archived (final).",
    "challenge.completed": "A member completed a challenge in a period (`period`, e.g. 2026-10,"
    " or ALL): once; `pointsAwarded` and the `badgeId` it gave.",
    "badge.awarded": "A member earned a badge (`source`: milestone, or the challenge and period),"
    " once per member and badge.",
    "experiment.created": "An A/B test of earning rules or rewards was made (a DRAFT: its rules"
    " and rewards go to nobody until it starts).",
    "experiment.started": "An experiment started: inside its window each variant's members get"
    " that variant's rules and rewards.",
    "experiment.concluded": "An experiment was stopped for good: everyone gets the rules and"
    " rewards of `winnerVariantKey`, or nobody any when it is null.",
    "store_credit.issued": "Store credit was issued.",
    "store_credit.spent": "Store credit was spent.",
    "store_credit.refunded": "Spent store credit was refunded.",
    "program.created": "The program was created.",
    "program.updated": "The program's settings changed.",
    "program.token_secret_rotated": "The member-token signing secret was rotated.",
    "trusted_documents.registered": "Trusted documents were registered.",
    "webhook_endpoint.disabled": "An endpoint failed for days and was disabled.",
    "webhook.test": "A test event (sendTestWebhook); sent only to the endpoint asked.",
}

GROUPS = frozenset(event_type.split(".", 1)[0] for event_type in EVENT_TYPES)


def is_known_filter(entry: str) -> bool:
    """An exact type, or a whole group as `points.*`."""
    if entry.endswith(".*"):
        return entry[:-2] in GROUPS
    return entry in EVENT_TYPES
