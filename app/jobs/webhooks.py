"""The webhook worker: fans the outbox out into deliveries and sends what is due, round after
round (app/services/webhooks/delivery.py has the contract). It runs inside `laurel serve`
(LAUREL_WEBHOOK_WORKER, on by default) and as `laurel worker` for a deployment of its own; on
PostgreSQL any number of them share the work.

Stopping is clean: the worker finishes the round it is in (its sends have a time limit), so a
restart loses nothing and sends nothing twice; only a killed worker's sends in flight are sent
again, once their lease runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

import httpx

from app.config import Settings
from app.db import utc_now
from app.services.webhooks import delivery
from app.services.webhooks.addresses import AddressGuard
from app.services.webhooks.delivery import DeliveryOptions

logger = logging.getLogger("laurel.webhooks")

IDLE_SECONDS = 1.0


def options_of(settings: Settings) -> DeliveryOptions:
    return DeliveryOptions(
        timeout_seconds=settings.webhook_timeout_seconds,
        allow_private_addresses=settings.webhooks_allow_private,
    )


async def stop_worker(stop: asyncio.Event, task: asyncio.Task[None], grace_seconds: float) -> None:
    """Lets the round in progress end (its sends are bounded), then cancels what is left."""
    stop.set()
    try:
        await asyncio.wait_for(asyncio.shield(task), grace_seconds)
    except TimeoutError:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class WebhookWorker:
    def __init__(self, options: DeliveryOptions, rng: random.Random | None = None) -> None:
        self.options = options
        self.guard = AddressGuard(options.allow_private_addresses)
        # Only for retry jitter, which needs no secrecy.
        self.rng = rng or random.Random()  # noqa: S311
        self._client = httpx.AsyncClient(
            timeout=options.timeout_seconds,
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(max_connections=options.batch),
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def run_round(self) -> int:
        """Fans out what is new and sends what is due now; how many sends it made."""
        while await delivery.fan_out(utc_now()) == delivery.FAN_OUT_BATCH:
            pass
        claimed = await delivery.claim_due(utc_now(), self.options)

        async def one(item: delivery.ClaimedDelivery) -> None:
            now = utc_now()
            outcome = await delivery.send(
                self._client,
                self.guard,
                item.url,
                item.secrets,
                delivery.message_id(item.event_id),
                item.body,
                now,
            )
            await delivery.record(item, outcome, utc_now(), self.rng)

        await asyncio.gather(*(one(item) for item in claimed))
        return len(claimed)

    async def run_until(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    sent = await self.run_round()
                except Exception:
                    # The database may be briefly away: the next round tries again.
                    logger.exception("webhook round failed; retrying")
                    sent = 0
                if sent == 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), IDLE_SECONDS)
        finally:
            await self.close()
