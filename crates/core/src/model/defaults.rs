//! mailcow's built-in `Default` templates (init_db), used when no template is named.

use super::*;

/// Domain template `Default` as mailcow's init creates it.
pub fn domain_template() -> DomainSettings {
    DomainSettings {
        limits: Some(DomainLimits {
            max_mailboxes: Some(Located::new(10)),
            max_aliases: Some(Located::new(400)),
            default_mailbox_quota: Some(Located::new(Size::from_mib(3072))),
            max_mailbox_quota: Some(Located::new(Size::from_mib(10240))),
            domain_quota: Some(Located::new(Size::from_mib(10240))),
        }),
        active: Some(true),
        gal: Some(true),
        backup_mx: Some(false),
        relay_all_recipients: Some(false),
        relay_unknown_only: Some(false),
        rate_limit: None,
        tags: Some(vec![]),
        dkim_selector: Some(Located::new("dkim".into())),
        dkim_key_size: Some(Located::new(2048)),
    }
}

/// Mailbox template `Default` as mailcow's init creates it. It has no `acl_pw_reset`, so
/// mailboxes made from it get `pw_reset = 0`.
pub fn mailbox_template() -> MailboxSettings {
    let acl =
        MailboxAcl::from_flags(&MailboxAcl::COLUMNS.iter().zip(MailboxAcl::COLUMN_DEFAULTS).map(|(c, d)| Some(*d && *c != "pw_reset")).collect::<Vec<_>>());
    MailboxSettings {
        quota: Some(Located::new(Size::UNLIMITED)),
        state: Some(MailboxState::Active),
        protocols: Some(Protocol::ALL.to_vec()),
        tls_enforce_in: Some(false),
        tls_enforce_out: Some(false),
        quarantine_notification: Some(QuarantineNotification::Hourly),
        quarantine_category: Some(QuarantineCategory::Reject),
        force_password_update: Some(false),
        force_tfa: Some(false),
        rate_limit: None,
        tags: Some(vec![]),
        tagged_mail_handler: Some(TaggedMailHandler::None),
        acl: Some(acl),
    }
}
