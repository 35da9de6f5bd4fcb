"""Orders by program and time: a backtest reads a period's orders a page at a time in
(placed_at, id) order; without this index each page sorted every order of the program again."""

from tortoise import migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0033_backtest_jobs')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Order',
            index=Index(fields=['program_id', 'placed_at', 'id']),
        ),
    ]
