"""The plans of app/graphql/compiled.py by document: learnt after Strawberry's answer, bounded,
and paused for a document that keeps failing."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable

import strawberry

from app.graphql.compiled import PLAN_CACHE_SIZE, Plan, WritePlan, plan_document
from app.graphql.executor_adapter import graphql_schema, plans_supported

logger = logging.getLogger("laurel.plans")


class PlanCache:
    """Plans by (document, operation name), bounded like Strawberry's parser cache.

    A document gets a plan only after Strawberry has answered it without an error, so every
    plan is of a document that passed the schema's validation. A document that keeps failing
    (Strawberry answers it with errors, or its plan gives up) `FAILURES_BEFORE_PAUSE` times in
    a row goes to Strawberry alone for `PAUSE_SECONDS`, so it stops costing a plan's try or a
    second look at every answer; then it is planned again. The pause ends on its own because
    one caller's bad variables, or a database briefly down, must not switch a storefront's
    plan off for everyone for good.
    """

    FAILURES_BEFORE_PAUSE = 8
    PAUSE_SECONDS = 60.0

    def __init__(
        self,
        schema: strawberry.Schema,
        maxsize: int = PLAN_CACHE_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.schema = schema
        self.graphql_schema = graphql_schema(schema)
        self.plans_allowed = plans_supported(schema)
        if not self.plans_allowed:
            logger.warning(
                "query plans are off: an extension wraps every resolver, or this Strawberry"
                " release moved what app/graphql/executor_adapter.py relies on"
            )
        self.maxsize = maxsize
        self.clock = clock
        # Answers given by plans, for tests and diagnostics.
        self.plan_answers = 0
        self._plans: OrderedDict[tuple[str, str | None], Plan | WritePlan | None] = OrderedDict()
        self._failures: OrderedDict[tuple[str, str | None], int] = OrderedDict()
        self._paused_until: dict[tuple[str, str | None], float] = {}

    def get(self, query: str, operation_name: str | None) -> Plan | WritePlan | None:
        key = (query, operation_name)
        plan = self._plans.get(key)
        if plan is not None:
            self._plans.move_to_end(key)
        return plan

    def knows(self, query: str, operation_name: str | None) -> bool:
        """Whether the document has a plan or is known to have none (so Strawberry's answers
        need no second look)."""
        key = (query, operation_name)
        paused_until = self._paused_until.get(key)
        if paused_until is not None and self.clock() >= paused_until:
            del self._paused_until[key]
            self._plans.pop(key, None)
        return key in self._plans

    def learn(self, query: str, operation_name: str | None) -> None:
        """Plan a document Strawberry has just answered without an error."""
        key = (query, operation_name)
        self._failures.pop(key, None)
        try:
            plan = (
                plan_document(self.graphql_schema, query, operation_name, self.schema)
                if self.plans_allowed
                else None
            )
        except Exception:  # a parse failure here means Strawberry's parser disagrees: no plan
            plan = None
        self._remember(key, plan)

    def answered(self, query: str, operation_name: str | None) -> None:
        """The plan answered: its run of failures, if any, is over."""
        self.plan_answers += 1
        if self._failures:
            self._failures.pop((query, operation_name), None)

    def failed(self, query: str, operation_name: str | None) -> None:
        """Strawberry answered with errors, or the document's plan gave up."""
        key = (query, operation_name)
        count = self._failures.pop(key, 0) + 1
        if count >= self.FAILURES_BEFORE_PAUSE:
            self._remember(key, None)
            self._paused_until[key] = self.clock() + self.PAUSE_SECONDS
            return
        self._failures[key] = count
        while len(self._failures) > self.maxsize:
            self._failures.popitem(last=False)

    def _remember(self, key: tuple[str, str | None], plan: Plan | WritePlan | None) -> None:
        self._plans[key] = plan
        self._plans.move_to_end(key)
        while len(self._plans) > self.maxsize:
            evicted, _ = self._plans.popitem(last=False)
            self._paused_until.pop(evicted, None)
