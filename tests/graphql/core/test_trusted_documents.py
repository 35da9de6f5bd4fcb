"""Trusted documents (app/services/documents/service.py, app/web/http_protocol.py): a program
registers the documents its storefront was built with, and in trusted-documents mode its
publishable keys run only those, by id. Also each program's own CORS request headers."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx

from app.auth.api_keys import KeyKind
from app.config import Settings
from tests.graphql.conftest import Api
from tests.graphql.core.test_hardening import client, refusal
from tests.graphql.factories import create_program, post_as, program_key, update_program_settings
from tests.graphql.helpers import codes
from tests.test_cli import laurel

PROGRAMS = "query Programs { programs { slug } }"
PROGRAM = "query Program($slug: String!) { program(slug: $slug) { name } }"
REGISTER = """mutation($input: RegisterTrustedDocumentsInput!) {
  registerTrustedDocuments(input: $input) {
    added alreadyRegistered total userErrors { code field message }
  }
}"""


def sha256(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def manifest_entry(document: str, name: str | None = None) -> dict[str, Any]:
    return {"id": sha256(document), "body": document, "name": name}


async def register(
    api: Api, documents: list[dict[str, Any]], slug: str = "shop", **more: Any
) -> dict[str, Any]:
    data = await api.data(
        REGISTER, {"input": {"programSlug": slug, "documents": documents, **more}}
    )
    payload: dict[str, Any] = data["registerTrustedDocuments"]
    return payload


async def by_id(
    api: Api, key: str, document_id: str, variables: dict[str, Any] | None = None, **body: Any
) -> httpx.Response:
    return await api.http.post(
        "/graphql",
        json={
            "variables": variables or {},
            "extensions": {"persistedQuery": {"version": 1, "sha256Hash": document_id}},
            **body,
        },
        headers={"Authorization": f"Bearer {key}"},
    )


def _code(response: httpx.Response) -> str:
    code: str = response.json()["errors"][0]["extensions"]["code"]
    return code


async def test_registering_adds_new_documents_and_keeps_the_rest(api: Api) -> None:
    await create_program(api)
    first = await register(api, [manifest_entry(PROGRAMS, "Programs")])
    again = await register(
        api,
        [manifest_entry(PROGRAMS, "Programs"), manifest_entry(PROGRAM), manifest_entry(PROGRAM)],
    )
    keyed = {"idempotencyKey": "deploy-7"}
    extra = manifest_entry("query Slugs { programs { slug name } }")
    made = await register(api, [extra], **keyed)
    replayed = await register(api, [extra], **keyed)
    reused = await register(api, [manifest_entry(PROGRAMS)], **keyed)

    assert first == {"added": 1, "alreadyRegistered": 0, "total": 1, "userErrors": []}
    # A document sent twice in one manifest counts once.
    assert again == {"added": 1, "alreadyRegistered": 1, "total": 2, "userErrors": []}
    assert made == {"added": 1, "alreadyRegistered": 0, "total": 3, "userErrors": []}
    assert replayed == made
    assert codes(reused["userErrors"]) == ["IDEMPOTENCY_KEY_REUSED"]


async def test_a_bad_manifest_is_refused_whole_with_each_problem_named(api: Api) -> None:
    await create_program(api)
    good = manifest_entry(PROGRAMS)
    refused = await register(
        api,
        [
            good,
            {"id": sha256("other text"), "body": PROGRAM},
            {"id": sha256("{ programs { "), "body": "{ programs { "},
            {"id": sha256("{ a\x00 }"), "body": "{ a\x00 }"},
            {**manifest_entry("{ programs { slug } }"), "name": "n" * 201},
        ],
    )
    unknown = await register(api, [good], slug="nope")
    empty = await register(api, [])

    assert [(error["code"], error["field"]) for error in refused["userErrors"]] == [
        ("DOCUMENT_ID_MISMATCH", ["input", "documents", "1", "id"]),
        ("INVALID_VALUE", ["input", "documents", "2", "body"]),
        ("INVALID_VALUE", ["input", "documents", "3", "body"]),
        ("TOO_LONG", ["input", "documents", "4", "name"]),
    ]
    assert refused["total"] == 0
    assert codes(unknown["userErrors"]) == ["PROGRAM_NOT_FOUND"]
    assert codes(empty["userErrors"]) == ["REQUIRED"]
    # Nothing of the refused manifest was kept, not even its good document.
    assert (await register(api, [good]))["added"] == 1


async def test_only_admin_keys_register(api: Api) -> None:
    await create_program(api)
    for kind in (KeyKind.SECRET, KeyKind.PUBLISHABLE):
        key = await program_key("shop", kind)
        response = await post_as(
            api,
            REGISTER,
            {"input": {"programSlug": "shop", "documents": [manifest_entry(PROGRAMS)]}},
            key=key,
        )
        payload = response.json()["data"]["registerTrustedDocuments"]
        assert codes(payload["userErrors"]) == ["FORBIDDEN"], kind
    assert (await register(api, [manifest_entry(PROGRAMS)]))["added"] == 1


async def test_in_trusted_mode_publishable_keys_run_only_registered_documents(
    db: None, settings: Settings
) -> None:
    async with client(settings, api_key_cache_seconds=0) as api:
        await create_program(api)
        await create_program(api, "other")
        publishable = await program_key("shop", KeyKind.PUBLISHABLE)
        secret = await program_key("shop", KeyKind.SECRET)
        await register(api, [manifest_entry(PROGRAM, "Program")])
        await register(api, [manifest_entry(PROGRAMS)], slug="other")

        # Off (the default): anything runs, and automatic persisted queries register.
        assert (await post_as(api, PROGRAMS, key=publishable)).status_code == 200
        program = await update_program_settings(api, trustedDocumentsOnly=True)
        assert program["trustedDocumentsOnly"] is True

        trusted = await by_id(api, publishable, sha256(PROGRAM), {"slug": "shop"})
        by_get = await api.http.get(
            "/graphql",
            params={
                "variables": json.dumps({"slug": "shop"}),
                "extensions": json.dumps(
                    {"persistedQuery": {"version": 1, "sha256Hash": sha256(PROGRAM)}}
                ),
            },
            headers={"Authorization": f"Bearer {publishable}"},
        )
        with_its_text = await by_id(
            api, publishable, sha256(PROGRAM), {"slug": "shop"}, query=PROGRAM
        )
        raw = await post_as(api, PROGRAMS, key=publishable)
        # Registered for another program: not this one's.
        foreign = await by_id(api, publishable, sha256(PROGRAMS))
        # Automatic registration is no way around the list.
        registering = await by_id(api, publishable, sha256(PROGRAMS), query=PROGRAMS)
        again = await by_id(api, publishable, sha256(PROGRAMS))

        assert trusted.status_code == 200, trusted.text
        assert trusted.json() == {"data": {"program": {"name": "shop rewards"}}}
        assert by_get.json() == trusted.json()
        assert with_its_text.json() == trusted.json()
        assert refusal(raw)[:2] == (400, "TRUSTED_DOCUMENT_REQUIRED")
        for refused in (foreign, registering, again):
            assert (refused.status_code, _code(refused)) == (400, "TRUSTED_DOCUMENT_NOT_FOUND")

        # Server and admin keys are not limited to the list.
        assert (await post_as(api, PROGRAMS, key=secret)).status_code == 200
        assert (await post_as(api, PROGRAMS, key=api.admin_key)).status_code == 200

        await update_program_settings(api, trustedDocumentsOnly=False)
        assert (await post_as(api, PROGRAMS, key=publishable)).json() == {
            "data": {"programs": [{"slug": "shop"}]}
        }


async def test_a_program_allows_its_own_request_headers_from_its_origins(
    db: None, settings: Settings
) -> None:
    async with client(settings, api_key_cache_seconds=0) as api:
        await create_program(api)
        await create_program(api, "other")
        await update_program_settings(api, corsOrigins=["https://shop.example"])
        await update_program_settings(api, "other", corsOrigins=["https://other.example"])

        async def granted(origin: str) -> set[str]:
            response = await api.http.options(
                "/graphql",
                headers={
                    "Origin": origin,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "content-type, x-shop-locale",
                },
            )
            assert response.status_code == 204
            return set(response.headers["access-control-allow-headers"].split(", "))

        assert await granted("https://shop.example") == {"content-type"}
        program = await update_program_settings(
            api, corsAllowedHeaders=["X-Shop-Locale", " x-shop-id "]
        )
        assert program["corsAllowedHeaders"] == ["x-shop-id", "x-shop-locale"]
        assert await granted("https://shop.example") == {"content-type", "x-shop-locale"}
        # Another program's origin does not get this program's headers.
        assert await granted("https://other.example") == {"content-type"}

        refused = await api.data(
            """mutation($input: UpdateProgramSettingsInput!) {
              updateProgramSettings(input: $input) { userErrors { code field } }
            }""",
            {"input": {"programSlug": "shop", "corsAllowedHeaders": ["bad header", "ok"]}},
        )
        assert refused["updateProgramSettings"]["userErrors"] == [
            {"code": "INVALID_VALUE", "field": ["input", "corsAllowedHeaders"]}
        ]


async def test_the_command_line_registers_apollo_and_map_manifests(
    api: Api, settings: Settings, tmp_path: Path
) -> None:
    await create_program(api)
    apollo = tmp_path / "persisted-query-manifest.json"
    apollo.write_text(
        json.dumps(
            {
                "format": "apollo-persisted-query-manifest",
                "version": 1,
                "operations": [
                    {**manifest_entry(PROGRAMS, "Programs"), "type": "query"},
                    {**manifest_entry(PROGRAM, "Program"), "type": "query"},
                ],
            }
        )
    )
    relay = tmp_path / "persisted_queries.json"
    extra = "query Names { programs { name } }"
    relay.write_text(json.dumps({sha256(extra): extra, sha256(PROGRAMS): PROGRAMS}))
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({sha256("x"): PROGRAMS}))
    not_json = tmp_path / "not.json"
    not_json.write_text("{")

    first = laurel(settings, "documents", "register", str(apollo), "--program", "shop")
    second = laurel(settings, "documents", "register", str(relay), "--program", "shop")
    mismatch = laurel(settings, "documents", "register", str(wrong), "--program", "shop")
    broken = laurel(settings, "documents", "register", str(not_json), "--program", "shop")
    missing = laurel(settings, "documents", "register", str(tmp_path / "no"), "--program", "shop")
    unknown = laurel(settings, "documents", "register", str(apollo), "--program", "nope")

    assert (first.returncode, first.stdout.strip()) == (
        0,
        "2 added, 0 already registered; shop has 2 trusted documents",
    ), first.stderr
    assert second.stdout.strip() == "1 added, 1 already registered; shop has 3 trusted documents"
    for failed, message in (
        (mismatch, "error: DOCUMENT_ID_MISMATCH"),
        (broken, "is not JSON"),
        (missing, "cannot read"),
        (unknown, "error: PROGRAM_NOT_FOUND"),
    ):
        assert failed.returncode == 2, failed.stdout
        assert message in failed.stderr, failed.stderr
    assert (await register(api, [manifest_entry(extra)]))["total"] == 3
