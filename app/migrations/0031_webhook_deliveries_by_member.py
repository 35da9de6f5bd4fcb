"""A member's webhook deliveries by (member_id, id): the console's member page lists them newest
first across the program's endpoints, and erasing a member scrubs their bodies in id order; the
index on (endpoint_id, member_id, status) serves neither, as it leads with the endpoint."""

from tortoise import migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0030_job_leases")]

    initial = False

    operations = [
        ops.AddIndex(
            model_name="WebhookDelivery",
            index=Index(fields=["member_id", "id"]),
        ),
    ]
