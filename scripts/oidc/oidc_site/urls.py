"""The provider's views at Keycloak's URL layout for the realm `mailplane`:

    /realms/mailplane/.well-known/openid-configuration
    /realms/mailplane/protocol/openid-connect/{auth,token,userinfo,certs,logout}

so that its issuer is `<origin>/realms/mailplane`, like a Keycloak realm; the same URLs serve
the generic-OIDC tests. The patterns keep django-oidc-provider's names, which its discovery
view reverses to announce the endpoints.
"""

from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from oidc_provider import views

REALM = "realms/mailplane/"
OIDC = REALM + "protocol/openid-connect/"

provider = [
    path(REALM + ".well-known/openid-configuration", views.ProviderInfoView.as_view(), name="provider-info"),
    path(OIDC + "auth", views.AuthorizeView.as_view(), name="authorize"),
    path(OIDC + "token", csrf_exempt(views.TokenView.as_view()), name="token"),
    path(OIDC + "userinfo", csrf_exempt(views.userinfo), name="userinfo"),
    path(OIDC + "certs", views.JwksView.as_view(), name="jwks"),
    path(OIDC + "logout", views.EndSessionView.as_view(), name="end-session"),
    path(OIDC + "token/introspect", views.TokenIntrospectionView.as_view(), name="token-introspection"),
]

urlpatterns = [path("", include((provider, "oidc_provider")))]
