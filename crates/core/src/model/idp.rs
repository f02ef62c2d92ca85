//! The identity provider: exactly one of LDAP, Keycloak or a generic OIDC provider.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Located, Secret};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum IdentityProvider {
    Ldap(LdapProvider),
    Keycloak(KeycloakProvider),
    GenericOidc(OidcProvider),
}

impl IdentityProvider {
    pub fn authsource(&self) -> super::AuthSource {
        match self {
            IdentityProvider::Ldap(_) => super::AuthSource::Ldap,
            IdentityProvider::Keycloak(_) => super::AuthSource::Keycloak,
            IdentityProvider::GenericOidc(_) => super::AuthSource::GenericOidc,
        }
    }
    pub fn mappings(&self) -> &[TemplateMapping] {
        match self {
            IdentityProvider::Ldap(p) => &p.mappings,
            IdentityProvider::Keycloak(p) => &p.mappings,
            IdentityProvider::GenericOidc(p) => &p.mappings,
        }
    }
    pub fn default_template(&self) -> Option<&Located<String>> {
        match self {
            IdentityProvider::Ldap(p) => p.default_template.as_ref(),
            IdentityProvider::Keycloak(p) => p.default_template.as_ref(),
            IdentityProvider::GenericOidc(p) => p.default_template.as_ref(),
        }
    }
    /// Which template a user gets: the mapping for its attribute value, else the default (on create).
    pub fn template_for(&self, attribute: Option<&str>) -> Option<&str> {
        template_for(self.mappings(), self.default_template(), attribute)
    }
    pub fn secret(&self) -> Option<&Located<Secret>> {
        match self {
            IdentityProvider::Ldap(p) => p.bind_password.as_ref(),
            IdentityProvider::Keycloak(p) => p.client_secret.as_ref(),
            IdentityProvider::GenericOidc(p) => p.client_secret.as_ref(),
        }
    }
}

/// Which template a user gets: the mapping for its attribute value, else the default (on create).
pub fn template_for<'a>(mappings: &'a [TemplateMapping], default: Option<&'a Located<String>>, attribute: Option<&str>) -> Option<&'a str> {
    let mapped = attribute.and_then(|a| mappings.iter().find(|m| m.value.value == a)).map(|m| m.template.as_str());
    mapped.or(default.map(|t| t.as_str()))
}

/// Users whose attribute (LDAP `attribute_field`, OIDC claim `mailcow_template`) equals `value` get mailbox template `template`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateMapping {
    pub value: Located<String>,
    pub template: Located<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LdapProvider {
    /// Servers tried in order (fallback).
    pub hosts: Located<Vec<Located<String>>>,
    /// Default 389.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub port: Option<Located<u16>>,
    /// LDAPS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_ssl: Option<bool>,
    /// StartTLS (ignored with `use_ssl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_tls: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_ssl_errors: Option<bool>,
    pub base_dn: Located<String>,
    /// Attribute holding the mail address users log in with (default `mail`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_field: Option<String>,
    /// Raw LDAP filter narrowing the users, e.g. `(objectClass=inetOrgPerson)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<Located<String>>,
    /// Attribute whose value selects the mailbox template (see `mappings`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute_field: Option<String>,
    pub bind_dn: Located<String>,
    /// Left as it is on the server when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_password: Option<Located<Secret>>,
    /// Update existing mailboxes from LDAP periodically.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub periodic_sync: Option<bool>,
    /// Create mailboxes for LDAP users periodically.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import_users: Option<bool>,
    /// Minutes between syncs (default 15).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub sync_interval: Option<Located<u32>>,
    /// Create a mailbox when an unknown user logs in (default false, as mailcow stores it when unset).
    /// Create a mailbox when an unknown user logs in (default false, as mailcow stores it when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_provisioning: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mappings: Vec<TemplateMapping>,
    /// Template for new mailboxes whose attribute matches no mapping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_template: Option<Located<String>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeycloakProvider {
    pub server_url: Located<String>,
    pub realm: Located<String>,
    pub client_id: Located<String>,
    /// Left as it is on the server when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Located<Secret>>,
    pub redirect_url: Located<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redirect_url_extra: Vec<Located<String>>,
    /// Keycloak version, e.g. `26.1.3`.
    pub version: Located<String>,
    /// Let IMAP/SMTP logins check the password against Keycloak.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mailpassword_flow: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub periodic_sync: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import_users: Option<bool>,
    /// Minutes between syncs (default 15).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub sync_interval: Option<Located<u32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_ssl_errors: Option<bool>,
    /// Create a mailbox when an unknown user logs in (default false, as mailcow stores it when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_provisioning: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mappings: Vec<TemplateMapping>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_template: Option<Located<String>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OidcProvider {
    pub authorize_url: Located<String>,
    pub token_url: Located<String>,
    pub userinfo_url: Located<String>,
    pub client_id: Located<String>,
    /// Left as it is on the server when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Located<Secret>>,
    pub redirect_url: Located<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redirect_url_extra: Vec<Located<String>>,
    /// Default `openid profile email mailcow_template`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_scopes: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_ssl_errors: Option<bool>,
    /// Create a mailbox when an unknown user logs in (default false, as mailcow stores it when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_provisioning: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mappings: Vec<TemplateMapping>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_template: Option<Located<String>>,
}
