"""Experiment queries (admin): the program's experiments, and one experiment's results."""

from __future__ import annotations

import strawberry

from app.graphql.core.connection import Connection, Edges, page_size
from app.graphql.core.context import Info
from app.graphql.core.programs import program_keyset_page
from app.graphql.core.query_checks import admin_in_query, decoded_in_query
from app.graphql.experiments.types import Experiment, ExperimentResultSet
from app.services.experiments import service as experiments_service


@strawberry.field(description="Admin only: the program's experiments, oldest first.")
async def experiments(
    info: Info, program_slug: str, first: int = 50, after: str | None = None
) -> Connection[Experiment] | None:
    principal = admin_in_query(info)
    page_size(first)
    return await program_keyset_page(
        program_slug,
        principal.program_scope,
        lambda program_id, position, limit: experiments_service.list_experiments(
            program_id, first=limit, after=position
        ),
        first=first,
        after=after,
        edges=Edges("Experiment", Experiment.from_record),
    )


@strawberry.field(
    description="Admin only: an experiment's results per variant, with the lift of each over"
    " control (formulas in docs/capabilities/experiments.md); null when not found."
)
async def experiment_results(
    info: Info, experiment_id: strawberry.ID
) -> ExperimentResultSet | None:
    principal = admin_in_query(info)
    pk = decoded_in_query(experiment_id, "Experiment")
    results = await experiments_service.experiment_results(pk, principal.program_scope)
    return None if results is None else ExperimentResultSet.from_results(results)
