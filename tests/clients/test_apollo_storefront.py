"""A storefront written with Apollo Client 4 (tests/clients/apollo/storefront.mjs), run in Node
against a live Laurel: automatic persisted queries by GET, `errorPolicy: "all"`, relay
pagination merged by the cache with the typePolicies docs/api.md gives, and a retried
redemption. The test checks what the client saw and every HTTP exchange it made.

Needs Node.js and the packages `scripts/test` installs with `npm ci`; without them the test is
skipped (CI sets REQUIRE_NODE=1, which makes that a failure).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.live_server import LiveServer, live_server

STOREFRONT = Path(__file__).parent / "apollo"
TYPE_POLICIES = Path(__file__).parents[2] / "docs" / "apollo-type-policies.json"
RUN_SECONDS = 60
NODE = shutil.which("node")


def _node_missing() -> str | None:
    if NODE is None:
        return "Node.js (`node`) is not installed"
    if not (STOREFRONT / "node_modules" / "@apollo" / "client").is_dir():
        return "tests/clients/apollo has no node_modules (scripts/test runs `npm ci` there)"
    return None


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    missing = _node_missing()
    if missing is not None:
        if os.environ.get("REQUIRE_NODE") == "1":
            pytest.fail(f"{missing} and REQUIRE_NODE=1")
        pytest.skip(missing)
    with live_server(Path(tmp_path_factory.mktemp("apollo"))) as server:
        yield _run_storefront(server)


def _run_storefront(server: LiveServer) -> dict[str, Any]:
    environment = {
        **os.environ,
        "LAUREL_URL": server.graphql_url,
        "LAUREL_KEY": server.publishable_key,
        "LAUREL_MEMBER_TOKEN": server.member_token,
        "LAUREL_TYPE_POLICIES": str(TYPE_POLICIES),
    }
    assert NODE is not None
    finished = subprocess.run(
        [NODE, "storefront.mjs"],
        cwd=STOREFRONT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=RUN_SECONDS,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    report: dict[str, Any] = json.loads(finished.stdout.strip().splitlines()[-1])
    return report


def test_persisted_queries_go_by_get_and_register_once(report: dict[str, Any]) -> None:
    exchanges = report["exchanges"]
    first_page = exchanges[: report["exchangesAfterFirstPage"]]
    # The hash alone by GET, Laurel does not know it yet, the link sends the document by POST.
    assert [(e["method"], e["sentQuery"], e["sentHash"]) for e in first_page] == [
        ("GET", False, True),
        ("POST", True, True),
    ]
    assert all(e["status"] == 200 for e in exchanges if e["method"] == "POST")
    assert all("json" in (e["contentType"] or "") for e in exchanges)
    assert report["firstPage"]["errors"] == []
    # A second client (a new page load) gets its answer from the hash alone.
    reload_exchange = exchanges[report["exchangesAfterFirstPage"]]
    assert (reload_exchange["method"], reload_exchange["sentQuery"]) == ("GET", False)
    assert reload_exchange["status"] == 200
    assert report["reload"]["errors"] == []
    assert report["reload"]["data"] == report["firstPage"]["data"]


def test_first_page_has_all_relay_page_info(report: dict[str, Any]) -> None:
    activity = report["firstPage"]["data"]["me"]["activity"]
    assert len(activity["edges"]) == 2
    page_info = activity["pageInfo"]
    assert page_info["hasNextPage"] is True
    assert page_info["hasPreviousPage"] is False
    assert page_info["startCursor"] == activity["edges"][0]["cursor"]
    assert page_info["endCursor"] == activity["edges"][-1]["cursor"]


def test_fetch_more_merges_the_next_page_in_the_cache(report: dict[str, Any]) -> None:
    first_ids = [e["node"]["id"] for e in report["firstPage"]["data"]["me"]["activity"]["edges"]]
    merged_ids = [e["node"]["id"] for e in report["merged"]["me"]["activity"]["edges"]]
    assert merged_ids[:2] == first_ids
    assert len(merged_ids) > 2
    assert len(set(merged_ids)) == len(merged_ids)


def test_a_stale_cursor_is_an_error_on_the_connection_and_me_survives(
    report: dict[str, Any],
) -> None:
    stale = report["staleCursor"]
    me = stale["data"]["me"]
    assert me["customerId"] == "cust-alice"
    assert me["activity"] is None
    assert [(e["path"], e["code"]) for e in stale["errors"]] == [
        (["me", "activity"], "INVALID_CURSOR")
    ]


def test_a_retried_redemption_spends_once(report: dict[str, Any]) -> None:
    redemption = report["redemption"]
    assert redemption["first"]["userErrors"] == []
    assert redemption["replay"]["redemption"] == redemption["first"]["redemption"]
    spent = redemption["first"]["redemption"]["pointsSpent"]
    assert spent > 0
    assert redemption["pointsAfter"] == redemption["pointsBefore"] - spent
