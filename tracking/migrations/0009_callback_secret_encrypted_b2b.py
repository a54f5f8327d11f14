"""The status-callback signing secret moves from plain text to a Fernet token."""

from django.db import migrations, models

import channels_app.fields
from channels_app.crypto import decrypt_text, encrypt_text


def _is_token(value: str) -> bool:
    try:
        decrypt_text(value)
    except Exception:
        return False
    return True


def encrypt_secrets(apps, schema_editor):
    # Here the field is still a plain TextField: values are read and written as stored.
    CallbackEndpoint = apps.get_model("tracking", "CallbackEndpoint")
    for pk, secret in CallbackEndpoint.objects.values_list("pk", "secret"):
        if secret and not _is_token(secret):
            CallbackEndpoint.objects.filter(pk=pk).update(secret=encrypt_text(secret))


def decrypt_secrets(apps, schema_editor):
    CallbackEndpoint = apps.get_model("tracking", "CallbackEndpoint")
    for pk, secret in CallbackEndpoint.objects.values_list("pk", "secret"):
        if secret and _is_token(secret):
            CallbackEndpoint.objects.filter(pk=pk).update(secret=decrypt_text(secret)[:200])


class Migration(migrations.Migration):
    dependencies = [
        ("tracking", "0008_partition_by_time_f"),
    ]

    operations = [
        migrations.AlterField(
            model_name="callbackendpoint", name="secret", field=models.TextField()
        ),
        migrations.RunPython(encrypt_secrets, decrypt_secrets),
        migrations.AlterField(
            model_name="callbackendpoint",
            name="secret",
            field=channels_app.fields.EncryptedTextField(),
        ),
    ]
