"""The no-circle contract finds circles between modules, including those inside one package."""

from __future__ import annotations

from grimp import ImportGraph

from tests.import_contracts import NoModuleCyclesContract


def _graph(*imports: tuple[str, str]) -> ImportGraph:
    graph = ImportGraph()
    for importer, imported in imports:
        graph.add_import(importer=importer, imported=imported)
    return graph


def _contract() -> NoModuleCyclesContract:
    return NoModuleCyclesContract(
        name="no circles", session_options={}, contract_options={"containers": ["pkg"]}
    )


def test_a_circle_inside_one_package_breaks_the_contract_once() -> None:
    graph = _graph(("pkg.a.x", "pkg.a.y"), ("pkg.a.y", "pkg.a.z"), ("pkg.a.z", "pkg.a.x"))

    check = _contract().check(graph, verbose=False)

    assert not check.kept
    assert check.metadata["circles"] == [("pkg.a.x", "pkg.a.y", "pkg.a.z", "pkg.a.x")]


def test_imports_that_go_one_way_keep_it() -> None:
    graph = _graph(("pkg.a", "pkg.b"), ("pkg.b", "pkg.c"), ("pkg.a", "pkg.c"), ("other.d", "pkg.a"))

    check = _contract().check(graph, verbose=False)

    assert check.kept
    assert check.metadata["circles"] == []
