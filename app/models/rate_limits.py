from tortoise import fields
from tortoise.models import Model


class RateLimitBucket(Model):
    """A token bucket every server process and host shares (an API key's rate limit): its
    tokens as of `refilled_at` (Unix seconds). Processes lease a few tokens at a time."""

    bucket = fields.CharField(max_length=128, primary_key=True)
    tokens = fields.FloatField()
    refilled_at = fields.FloatField()

    class Meta:
        table = "rate_limit_buckets"
