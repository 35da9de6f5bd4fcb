from typing import TYPE_CHECKING, Any

from tortoise import fields

from app.models.jobs import JobState

if TYPE_CHECKING:
    from app.models.programs import Program


class BacktestJob(JobState):
    """A backtest run in the background: the proposal it was given, how far it got, its result."""

    program: fields.ForeignKeyRelation["Program"] = fields.ForeignKeyField(
        "models.Program", related_name="backtest_jobs", on_delete=fields.RESTRICT
    )
    # The period and the proposal, as given (checked when queued).
    input: Any = fields.JSONField()
    # Member orders in the period when the job started, and how many it has played so far.
    orders_total = fields.BigIntField(default=0)
    orders_done = fields.BigIntField(default=0)
    # Both runs' figures once DONE.
    result: Any = fields.JSONField(null=True)

    class Meta:
        table = "backtest_jobs"
        indexes = (("status", "id"),)
