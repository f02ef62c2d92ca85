"""Creates the confidential clients the tests use, both with secret `mailcow-secret`:
`mailcow`, allowed the client_credentials grant (which django-oidc-provider grants only to clients
with a scope), and `mailcow-no-service`, without a scope: its credentials are accepted, but it gets
no client_credentials token (like a Keycloak client without service accounts)."""

from django.core.management.base import BaseCommand
from oidc_provider.models import Client, ResponseType, RSAKey


class Command(BaseCommand):
    help = "Create the test client (and a signing key) for mailplane's idp tests."

    def handle(self, *args, **options):
        for client_id, scope in [("mailcow", "openid profile email"), ("mailcow-no-service", "")]:
            client, _ = Client.objects.update_or_create(
                client_id=client_id,
                defaults={
                    "name": client_id,
                    "client_type": "confidential",
                    "client_secret": "mailcow-secret",
                    "_redirect_uris": "https://mail.example.org/?iam_sso=1",
                    "_scope": scope,
                },
            )
            client.response_types.set(ResponseType.objects.filter(value="code"))
        if not RSAKey.objects.exists():
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric import rsa

            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
            )
            RSAKey.objects.create(key=pem.decode())
        self.stdout.write("clients mailcow and mailcow-no-service ready")
