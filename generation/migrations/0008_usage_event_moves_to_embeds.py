# The upload limit moved to embeds (embeds.limits), and its UsageEvent model with it; the table
# stays where it is (embeds' model names it), so only the migration state changes here.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('generation', '0007_task_kind_analyze'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='UsageEvent')],
            database_operations=[],
        ),
    ]
