# UsageEvent, made by generation's 0005, now belongs to embeds (the upload limit lives here):
# state only, the table generation_usageevent is kept.

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('embeds', '0002_embed_type_image_analysis'),
        ('generation', '0008_usage_event_moves_to_embeds'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='UsageEvent',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(choices=[('image_decode', 'Image decoded (upload, crop)')], max_length=32)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('owner', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'generation_usageevent',
                        'indexes': [models.Index(fields=['owner', 'kind', 'created_at'], name='generation__owner_i_1027ef_idx')],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
