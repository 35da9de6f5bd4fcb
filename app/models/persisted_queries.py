from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from app.models.programs import Program


class PersistedQuery(Model):
    """A query document a client registered by its SHA-256 (automatic persisted queries): later
    requests send the hash alone. Shared by every program: a document is public schema text."""

    sha256 = fields.CharField(max_length=64, primary_key=True)
    document = fields.TextField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "persisted_queries"


class TrustedDocument(Model):
    """A query document a program's store registered from its build (a persisted-query
    manifest). With the program's `trusted_documents_only`, publishable keys may run only
    these, by their id (the SHA-256 of the document's UTF-8 text)."""

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation["Program"] = fields.ForeignKeyField(
        "models.Program", related_name="trusted_documents"
    )
    sha256 = fields.CharField(max_length=64)
    # The operation's name in the manifest, for people reading the list.
    name = fields.CharField(max_length=200, null=True)
    document = fields.TextField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "trusted_documents"
        unique_together = (("program", "sha256"),)
