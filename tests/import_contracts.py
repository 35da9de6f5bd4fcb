"""An import-linter contract that import-linter lacks: no import circle between any two modules.

`acyclic_siblings` looks at packages with their contents squashed together; a circle between
two modules of one package, or a longer one across packages, is what made `strawberry.lazy`
and imports inside functions necessary before. This contract takes every direct import
`a -> b` and fails when `b` leads back to `a`.
"""

from __future__ import annotations

from typing import Any

from grimp import ImportGraph
from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck


class NoModuleCyclesContract(Contract):
    type_name = "no_module_cycles"

    containers = fields.ListField(subfield=fields.StringField())

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        containers: list[str] = self.containers  # type: ignore[assignment]
        inside = sorted(
            module
            for module in graph.modules
            if any(module == root or module.startswith(f"{root}.") for root in containers)
        )
        circles: set[tuple[str, ...]] = set()
        for importer in inside:
            for imported in graph.find_modules_directly_imported_by(importer):
                if imported not in inside:
                    continue
                way_back = graph.find_shortest_chain(importer=imported, imported=importer)
                if way_back is not None:
                    circle = (importer, *way_back)
                    start = circle.index(min(circle[:-1]))
                    circles.add(circle[start:-1] + circle[:start] + (circle[start],))
        return ContractCheck(kept=not circles, metadata={"circles": sorted(circles)})

    def render_broken_contract(self, check: ContractCheck) -> None:
        circles: list[Any] = check.metadata["circles"]
        for circle in circles:
            output.print_error(" -> ".join(circle), bold=False)
            output.new_line()
