"""An app started and stopped after another, each in an event loop of its own (as two test
clients, or two servers of one process, run them), starts and stops cleanly: nothing of the
first loop is kept in a module and reused by the second (the import runner's wake was)."""

from __future__ import annotations

from starlette.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.services.imports import jobs as import_jobs


def test_two_apps_one_after_the_other_start_and_stop_in_their_own_loops() -> None:
    for _ in range(2):
        app = create_app(Settings(database_url="sqlite://:memory:"))
        with TestClient(app) as client:
            assert client.get("/healthz").status_code == 200
            # The upload wake reaches the runner of this app's loop
            import_jobs.IMPORT_QUEUED.queued()
    # Every runner let go of its wake when its app stopped
    assert import_jobs.IMPORT_QUEUED._waiters == set()
