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
from asyncio import FIRST_COMPLETED
from typing import Any, Literal

import httpx

from app.config import Settings
from app.db import utc_now
from app.services.core.outbox_signal import OUTBOX_SIGNAL, OutboxWake
from app.services.webhooks import delivery
from app.services.webhooks.addresses import AddressGuard
from app.services.webhooks.delivery import DeliveryOptions

logger = logging.getLogger("laurel.webhooks")

IDLE_SECONDS = 0.5
SETTLE_SECONDS = 0.02


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
        """Fans out what is new, sends what is due now and waits for those sends; how many it
        made (the tests' step; `run_until` keeps sends going without waiting for a round)."""
        await self._fan_out()
        claimed = await delivery.claim_due(utc_now(), self.options, self.options.batch)
        await asyncio.gather(*(self._send(item) for item in claimed))
        return len(claimed)

    async def _fan_out(self) -> None:
        while await delivery.fan_out(utc_now()) == delivery.FAN_OUT_BATCH:
            pass

    async def _send(self, item: delivery.ClaimedDelivery) -> None:
        outcome = await delivery.send(
            self._client,
            self.guard,
            item.url,
            item.secrets,
            delivery.message_id(item.event_id),
            item.body,
            utc_now(),
        )
        await delivery.record(item, outcome, utc_now(), self.rng)

    async def run_until(self, stop: asyncio.Event) -> None:
        """Keeps up to `batch` sends under way: as one ends, the next due delivery starts, so
        a slow endpoint holds one slot, not a whole round. On `stop` it claims nothing more and
        lets the sends under way end (each has its time limit)."""
        in_flight: set[asyncio.Task[None]] = set()
        stopping = asyncio.ensure_future(stop.wait())
        try:
            async with OUTBOX_SIGNAL.listening() as wake:
                await self._keep_sending(stop, stopping, wake, in_flight)
        finally:
            stopping.cancel()
            if in_flight:
                await asyncio.gather(*in_flight, return_exceptions=True)
            await self.close()

    async def _keep_sending(
        self,
        stop: asyncio.Event,
        stopping: asyncio.Future[Literal[True]],
        wake: OutboxWake,
        in_flight: set[asyncio.Task[None]],
    ) -> None:
        while not stop.is_set():
            claimed: list[delivery.ClaimedDelivery] = []
            try:
                room = self.options.batch - len(in_flight)
                if room > 0 and await delivery.work_waiting():
                    await self._fan_out()
                    claimed = await delivery.claim_due(utc_now(), self.options, room)
            except Exception:
                # The database may be briefly away: the next turn tries again.
                logger.exception("webhook worker turn failed; retrying")
            for item in claimed:
                task = asyncio.create_task(self._send(item))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            if claimed and len(in_flight) < self.options.batch:
                continue  # more may be due at once
            # Wait for a send to end (its member's next event may now go), for new events,
            # for a retry to fall due, or for the stop; a little at least, so a burst of
            # ends or commits makes one claim.
            woken = asyncio.ensure_future(wake.event.wait())
            waits: set[asyncio.Future[Any]] = {*in_flight, stopping, woken}
            await asyncio.wait(
                waits,
                timeout=IDLE_SECONDS,
                return_when=FIRST_COMPLETED,
            )
            woken.cancel()
            wake.event.clear()
            await asyncio.sleep(SETTLE_SECONDS)
