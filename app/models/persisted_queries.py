from tortoise import fields
from tortoise.models import Model


class PersistedQuery(Model):
    """A query document a client registered by its SHA-256 (automatic persisted queries): later
    requests send the hash alone. Shared by every program: a document is public schema text."""

    sha256 = fields.CharField(max_length=64, primary_key=True)
    document = fields.TextField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "persisted_queries"
