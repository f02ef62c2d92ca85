//! The invalid-input corpus: every validation rule and parse failure, each asserting the exact
//! diagnostic text and location (insta snapshots in tests/it/snapshots/it__validate_corpus__*.snap).

use mailplane::kinds;

/// (case name, files as (relative path, content)).
type Case = (&'static str, &'static [(&'static str, &'static str)]);

const CASES: &[Case] = &[
    (
        "mta_sts_rules",
        &[(
            "a.yaml",
            "domains:\n  - name: a.org\n    mta_sts: {mode: enforce, version: STSv2, max_age: 0, mx: [mail.a.org, \"mx .a.org\", \"a.*.org\", \"*.mx.a.org\"]}\n  - name: b.org\n    mta_sts: {mode: testing, mx: [], max_age: 31536001}\n",
        )],
    ),
    (
        "footer_excludes_nothing_declared",
        &[(
            "a.yaml",
            "domains:\n  - name: a.org\n    alias_domains: [{name: b.org}]\n    mailboxes: [{local_part: x}]\n    footer: {plain: hi, exclude: [x@a.org, y@a.org, b.org, c.org, \"not an address\"]}\n",
        )],
    ),
    ("mta_sts_bad_mode", &[("a.yaml", "domains:\n  - name: a.org\n    mta_sts: {mode: strict, mx: [mail.a.org]}\n")]),
    ("yaml_bad_indentation", &[("a.yaml", "domains:\n  - name: a.org\n   description: x\n")]),
    ("yaml_unclosed_quote", &[("a.yaml", "domains:\n  - name: \"a.org\n")]),
    ("yaml_unclosed_bracket", &[("a.yaml", "domains: [\n  {name: a.org}\n")]),
    ("yaml_tab_indentation", &[("a.yaml", "domains:\n\t- name: a.org\n")]),
    ("yaml_not_a_mapping", &[("a.yaml", "- just\n- a list\n")]),
    ("unknown_top_level_field", &[("a.yaml", "domians:\n  - name: a.org\n")]),
    ("unknown_mailbox_field", &[("a.yaml", "domains:\n  - name: a.org\n    mailboxes:\n      - local_part: x\n        pasword: y\n")]),
    ("unknown_limits_field", &[("a.yaml", "domains:\n  - name: a.org\n    limits:\n      max_boxes: 3\n")]),
    ("duplicate_mapping_key", &[("a.yaml", "domains:\n  - name: a.org\n    name: b.org\n")]),
    ("wrong_type_string_for_number", &[("a.yaml", "domains:\n  - name: a.org\n    limits: {max_mailboxes: many}\n")]),
    ("wrong_type_list_for_string", &[("a.yaml", "domains:\n  - name: [a.org]\n")]),
    ("yes_is_not_a_boolean", &[("a.yaml", "domains:\n  - name: a.org\n    active: yes\n")]),
    ("bad_enum_value", &[("a.yaml", "domains:\n  - name: a.org\n    mailboxes:\n      - local_part: x\n        state: disabled\n")]),
    ("size_with_decimal_unit", &[("a.yaml", "domains:\n  - name: a.org\n    mailboxes:\n      - local_part: x\n        quota: 2 GB\n")]),
    ("size_without_unit", &[("a.yaml", "domains:\n  - name: a.org\n    mailboxes:\n      - local_part: x\n        quota: 10\n")]),
    ("bad_rate_limit", &[("a.yaml", "domains:\n  - name: a.org\n    rate_limit: 100 per hour\n")]),
    ("secret_unknown_key", &[("a.yaml", "relay_hosts:\n  - name: r\n    hostname: \"[r.example]:25\"\n    password: {vault: x}\n")]),
    ("secret_two_keys", &[("a.yaml", "relay_hosts:\n  - name: r\n    hostname: \"[r.example]:25\"\n    password: {env: A, file: b}\n")]),
    ("missing_required_field", &[("a.yaml", "domains:\n  - description: no name\n")]),
    ("invalid_domain_underscore", &[("a.yaml", "domains:\n  - name: bad_domain.org\n")]),
    ("invalid_domain_single_label", &[("a.yaml", "domains:\n  - name: localhost\n")]),
    ("invalid_domain_hyphen", &[("a.yaml", "domains:\n  - name: -a.org\n")]),
    ("invalid_alias_domain", &[("a.yaml", "domains:\n  - name: a.org\n    alias_domains:\n      - name: b..org\n")]),
    ("invalid_local_part_space", &[("a.yaml", "domains:\n  - name: a.org\n    mailboxes:\n      - local_part: \"a b\"\n")]),
    ("invalid_local_part_dots", &[("a.yaml", "domains:\n  - name: a.org\n    mailboxes:\n      - local_part: a..b\n")]),
    ("domain_declared_twice", &[("a.yaml", "domains:\n  - name: a.org\n  - name: A.org\n")]),
    ("domain_declared_in_two_files", &[("a.yaml", "domains:\n  - name: a.org\n"), ("b.yaml", "domains:\n  - name: a.org\n")]),
    ("alias_domain_equals_domain", &[("a.yaml", "domains:\n  - name: a.org\n  - name: b.org\n    alias_domains:\n      - name: a.org\n")]),
    ("mailbox_declared_twice", &[("a.yaml", "domains:\n  - name: a.org\n    mailboxes:\n      - local_part: x\n      - local_part: X\n")]),
    (
        "alias_on_mailbox_address",
        &[("a.yaml", "domains:\n  - name: a.org\n    mailboxes:\n      - local_part: x\n    aliases:\n      - address: x@a.org\n        goto: [y@b.org]\n")],
    ),
    ("domain_is_hostname", &[("mailplane.yaml", "mailcow_hostname: mail.a.org\n"), ("a.yaml", "domains:\n  - name: mail.a.org\n")]),
    ("default_quota_above_max", &[("a.yaml", "domains:\n  - name: a.org\n    limits:\n      default_mailbox_quota: 4 GiB\n      max_mailbox_quota: 2 GiB\n")]),
    ("max_quota_above_domain_quota", &[("a.yaml", "domains:\n  - name: a.org\n    limits:\n      max_mailbox_quota: 20 GiB\n      domain_quota: 10 GiB\n")]),
    ("unlimited_default_quota", &[("a.yaml", "domains:\n  - name: a.org\n    limits:\n      default_mailbox_quota: unlimited\n")]),
    (
        "mailbox_quota_above_max",
        &[("a.yaml", "domains:\n  - name: a.org\n    limits: {max_mailbox_quota: 1 GiB}\n    mailboxes:\n      - local_part: x\n        quota: 2 GiB\n")],
    ),
    (
        "quota_sum_above_domain_quota",
        &[(
            "a.yaml",
            "domains:\n  - name: a.org\n    limits: {domain_quota: 10 GiB, max_mailbox_quota: 6 GiB, default_mailbox_quota: 1 GiB}\n    mailboxes:\n      - {local_part: x, quota: 6 GiB}\n      - {local_part: y, quota: 6 GiB}\n",
        )],
    ),
    (
        "too_many_mailboxes",
        &[("a.yaml", "domains:\n  - name: a.org\n    limits: {max_mailboxes: 1}\n    mailboxes:\n      - local_part: x\n      - local_part: y\n")],
    ),
    (
        "too_many_aliases_with_alias_domain",
        &[(
            "a.yaml",
            "domains:\n  - name: a.org\n    limits: {max_aliases: 1}\n    alias_domains: [{name: b.org}]\n    aliases:\n      - {address: x@a.org, goto: [z@c.org]}\n      - {address: y@b.org, goto: [z@c.org]}\n",
        )],
    ),
    ("relay_all_without_backup_mx", &[("a.yaml", "domains:\n  - name: a.org\n    relay_all_recipients: true\n")]),
    ("relay_unknown_without_relay_all", &[("a.yaml", "domains:\n  - name: a.org\n    backup_mx: true\n    relay_unknown_only: true\n")]),
    ("alias_domain_on_backup_mx", &[("a.yaml", "domains:\n  - name: a.org\n    backup_mx: true\n    alias_domains: [{name: b.org}]\n")]),
    ("unknown_domain_template", &[("a.yaml", "domains:\n  - name: a.org\n    template: nope\n")]),
    ("unknown_mailbox_template", &[("a.yaml", "domains:\n  - name: a.org\n    mailboxes:\n      - local_part: x\n        template: nope\n")]),
    ("unknown_relay_host_on_domain", &[("a.yaml", "domains:\n  - name: a.org\n    relay_host: nope\n")]),
    ("unknown_relay_host_on_mailbox", &[("a.yaml", "domains:\n  - name: a.org\n    mailboxes:\n      - local_part: x\n        relay_host: nope\n")]),
    (
        "idp_mapping_unknown_template",
        &[(
            "a.yaml",
            "identity_provider:\n  ldap:\n    hosts: [l.example]\n    base_dn: dc=x\n    bind_dn: cn=y\n    mappings:\n      - {value: IT, template: nope}\n",
        )],
    ),
    (
        "idp_default_template_unknown",
        &[("a.yaml", "identity_provider:\n  ldap:\n    hosts: [l.example]\n    base_dn: dc=x\n    bind_dn: cn=y\n    default_template: nope\n")],
    ),
    ("authsource_without_idp", &[("a.yaml", "domains:\n  - name: a.org\n    mailboxes:\n      - local_part: x\n        authsource: ldap\n")]),
    ("alias_in_undeclared_domain", &[("a.yaml", "aliases:\n  - address: x@nowhere.org\n    goto: [y@a.org]\n")]),
    ("sender_acl_unknown_address", &[("a.yaml", "domains:\n  - name: a.org\n    mailboxes:\n      - local_part: x\n        sender_acl: [sales@a.org]\n")]),
    ("bcc_unknown_local_dest", &[("a.yaml", "domains:\n  - name: a.org\nbcc_maps:\n  - {local_dest: x@a.org, bcc_dest: archive@b.org, type: recipient}\n")]),
    (
        "password_with_external_authsource",
        &[(
            "a.yaml",
            "identity_provider:\n  ldap:\n    hosts: [l.example]\n    base_dn: dc=x\n    bind_dn: cn=y\ndomains:\n  - name: a.org\n    mailboxes:\n      - local_part: x\n        authsource: ldap\n        password: \"{SSHA256}abc\"\n",
        )],
    ),
    ("unknown_hash_scheme", &[("a.yaml", "domains:\n  - name: a.org\n    mailboxes:\n      - local_part: x\n        password: \"{FANCY}abc\"\n")]),
    ("plaintext_mailbox_password", &[("a.yaml", "domains:\n  - name: a.org\n    mailboxes:\n      - local_part: x\n        password: hunter2\n")]),
    ("plaintext_relay_password", &[("a.yaml", "relay_hosts:\n  - name: r\n    hostname: \"[r.example]:25\"\n    password: hunter2\n")]),
    (
        "plaintext_transport_password",
        &[("a.yaml", "transports:\n  - destination: b.org\n    nexthop: \"[mx.b.org]:25\"\n    username: u\n    password: hunter2\n")],
    ),
    (
        "plaintext_idp_secret",
        &[("a.yaml", "identity_provider:\n  ldap:\n    hosts: [l.example]\n    base_dn: dc=x\n    bind_dn: cn=y\n    bind_password: hunter2\n")],
    ),
    ("password_in_target_url", &[("mailplane.yaml", "target: mysql://mailcow:hunter2@db:3306/mailcow\n")]),
    (
        "external_sender_acl_on_local_domain",
        &[("a.yaml", "domains:\n  - name: a.org\n    mailboxes:\n      - local_part: x\n        external_sender_acl: [y@a.org]\n")],
    ),
    ("internal_sender_acl_outside", &[("a.yaml", "domains:\n  - name: a.org\n    mailboxes:\n      - local_part: x\n        sender_acl: [y@b.org]\n")]),
    ("star_in_external_sender_acl", &[("a.yaml", "domains:\n  - name: a.org\n    mailboxes:\n      - local_part: x\n        external_sender_acl: [\"*\"]\n")]),
    ("alias_under_wrong_domain", &[("a.yaml", "domains:\n  - name: a.org\n  - name: b.org\n    aliases:\n      - {address: x@a.org, goto: [y@c.org]}\n")]),
    (
        "alias_hides_alias_domain_mailbox",
        &[(
            "a.yaml",
            "domains:\n  - name: a.org\n    alias_domains: [{name: b.org}]\n    mailboxes:\n      - local_part: x\n    aliases:\n      - {address: x@b.org, goto: [y@c.org]}\n",
        )],
    ),
    ("empty_goto", &[("a.yaml", "domains:\n  - name: a.org\n    aliases:\n      - {address: x@a.org, goto: []}\n")]),
    ("special_target_not_alone", &[("a.yaml", "domains:\n  - name: a.org\n    aliases:\n      - {address: x@a.org, goto: [discard, y@b.org]}\n")]),
    ("alias_points_at_itself", &[("a.yaml", "domains:\n  - name: a.org\n    aliases:\n      - {address: x@a.org, goto: [x@a.org]}\n")]),
    ("invalid_goto", &[("a.yaml", "domains:\n  - name: a.org\n    aliases:\n      - {address: x@a.org, goto: [not-an-address]}\n")]),
    ("invalid_recovery_email", &[("a.yaml", "domains:\n  - name: a.org\n    mailboxes:\n      - local_part: x\n        recovery_email: nope\n")]),
    ("invalid_bcc_dest", &[("a.yaml", "domains:\n  - name: a.org\nbcc_maps:\n  - {local_dest: a.org, bcc_dest: nope, type: sender}\n")]),
    (
        "comment_too_long",
        &[(
            "a.yaml",
            "domains:\n  - name: a.org\n    aliases:\n      - address: x@a.org\n        goto: [y@b.org]\n        public_comment: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
        )],
    ),
    (
        "alias_loop_of_two",
        &[("a.yaml", "domains:\n  - name: a.org\n    aliases:\n      - {address: x@a.org, goto: [y@a.org]}\n      - {address: y@a.org, goto: [x@a.org]}\n")],
    ),
    (
        "alias_loop_of_three",
        &[(
            "a.yaml",
            "domains:\n  - name: a.org\n    aliases:\n      - {address: a@a.org, goto: [b@a.org]}\n      - {address: b@a.org, goto: [c@a.org]}\n      - {address: c@a.org, goto: [a@a.org, d@e.org]}\n",
        )],
    ),
    ("tls_destination_with_at", &[("a.yaml", "tls_policies:\n  - {destination: x@a.org, policy: secure}\n")]),
    ("tls_parameters_syntax", &[("a.yaml", "tls_policies:\n  - {destination: a.org, policy: secure, parameters: \"match=.a.org nonsense\"}\n")]),
    ("tls_policy_declared_twice", &[("a.yaml", "tls_policies:\n  - {destination: a.org, policy: secure}\n  - {destination: A.org, policy: may}\n")]),
    ("relay_host_without_hostname", &[("a.yaml", "relay_hosts:\n  - name: r\n    hostname: \"\"\n")]),
    ("transport_without_nexthop", &[("a.yaml", "transports:\n  - {destination: a.org, nexthop: \"\"}\n")]),
    ("transport_bad_destination", &[("a.yaml", "transports:\n  - {destination: \"a b\", nexthop: \"[mx.a.org]:25\"}\n")]),
    ("transport_bad_regex", &[("a.yaml", "transports:\n  - {destination: \"mx(\", nexthop: \"[mx.a.org]:25\", mx_based: true}\n")]),
    (
        "nexthop_bracketed_and_bare",
        &[("a.yaml", "transports:\n  - {destination: a.org, nexthop: \"mx.a.org\"}\n  - {destination: b.org, nexthop: \"[mx.a.org]\"}\n")],
    ),
    (
        "nexthop_different_usernames",
        &[(
            "a.yaml",
            "transports:\n  - {destination: a.org, nexthop: \"[mx.a.org]:25\", username: u1}\n  - {destination: b.org, nexthop: \"[mx.a.org]:25\", username: u2}\n",
        )],
    ),
    (
        "idp_sync_interval_zero",
        &[("a.yaml", "identity_provider:\n  ldap:\n    hosts: [l.example]\n    base_dn: dc=x\n    bind_dn: cn=y\n    sync_interval: 0\n")],
    ),
    ("idp_no_hosts", &[("a.yaml", "identity_provider:\n  ldap:\n    hosts: []\n    base_dn: dc=x\n    bind_dn: cn=y\n")]),
    (
        "idp_in_two_files",
        &[
            ("a.yaml", "identity_provider:\n  ldap: {hosts: [l.example], base_dn: dc=x, bind_dn: cn=y}\n"),
            ("b.yaml", "identity_provider:\n  ldap: {hosts: [m.example], base_dn: dc=x, bind_dn: cn=y}\n"),
        ],
    ),
    (
        "too_many_tags",
        &[(
            "a.yaml",
            "domains:\n  - name: a.org\n    tags: [t1, t2, t3, t4, t5, t6, t7, t8, t9, t10, t11, t12, t13, t14, t15, t16, t17, t18, t19, t20, t21, t22, t23, t24, t25, t26]\n",
        )],
    ),
    ("template_declared_twice", &[("a.yaml", "mailbox_templates:\n  - name: staff\n  - name: staff\n")]),
    (
        "recipient_map_declared_twice",
        &[("a.yaml", "domains:\n  - name: a.org\nrecipient_maps:\n  - {old: x@a.org, new: y@a.org}\n  - {old: x@a.org, new: z@a.org}\n")],
    ),
    ("services_without_root", &[("a.yaml", "services:\n  rspamd:\n    maps:\n      a.map: \"x\\n\"\n")]),
    (
        "services_file_names",
        &[
            ("mailplane.yaml", "services_root: /opt/mailcow-dockerized/data/conf\n"),
            (
                "a.yaml",
                "services:\n  postfix:\n    files:\n      ../main.cf: x\n      custom.txt: x\n  rspamd:\n    local_d:\n      .hidden.conf: x\n      sub/dir.conf: x\n    override_d:\n      options.inc: {file: missing.inc}\n",
            ),
        ],
    ),
    (
        "services_postfix_parameters",
        &[
            ("mailplane.yaml", "services_root: conf\n"),
            (
                "a.yaml",
                "services:\n  postfix:\n    main_cf:\n      myhostname: mail.a.org\n      \"bad name\": 1\n      smtpd_banner: \"a\\nb\"\n      message_size_limit: 1\n",
            ),
            ("b.yaml", "services:\n  postfix:\n    main_cf:\n      message_size_limit: 2\n  dovecot:\n    extra_conf: x\n"),
            ("c.yaml", "services:\n  dovecot:\n    extra_conf: y\n"),
        ],
    ),
    ("size_too_large_for_bigint", &[("a.yaml", "domains:\n  - name: a.org\n    limits:\n      domain_quota: 8388608 TiB\n")]),
    ("size_zero_with_unit", &[("a.yaml", "domains:\n  - name: a.org\n    mailboxes:\n      - local_part: x\n        quota: 0 GiB\n")]),
    ("size_bare_zero", &[("a.yaml", "domains:\n  - name: a.org\n    mailboxes:\n      - local_part: x\n        quota: 0\n")]),
    (
        "dkim_key_size_not_offered",
        &[(
            "a.yaml",
            "domain_templates:\n  - name: big\n    dkim_key_size: 99999\ndomains:\n  - name: a.org\n    dkim_key_size: 1\n    alias_domains:\n      - {name: b.org, dkim_selector: s1, dkim_key_size: 512}\n",
        )],
    ),
    (
        "dkim_selector_invalid",
        &[("a.yaml", "domains:\n  - name: a.org\n    dkim_selector: \"dkim 2026\"\n    alias_domains:\n      - {name: b.org, dkim_selector: \"a..b\"}\n")],
    ),
    (
        "dkim_private_key_not_rsa_pem",
        &[("a.yaml", "domains:\n  - name: a.org\n    dkim_private_key: \"-----BEGIN EC PRIVATE KEY-----\\nAAAA\\n-----END EC PRIVATE KEY-----\"\n")],
    ),
    ("limit_count_above_int", &[("a.yaml", "domains:\n  - name: a.org\n    limits:\n      max_mailboxes: 3000000000\n      max_aliases: 2147483648\n")]),
    ("domain_limit_not_whole_mib", &[("a.yaml", "domains:\n  - name: a.org\n    limits:\n      default_mailbox_quota: 1536 KiB\n")]),
    ("domain_quota_unlimited", &[("a.yaml", "domains:\n  - name: a.org\n    limits:\n      domain_quota: unlimited\n")]),
    (
        "aliases_differ_only_in_case",
        &[
            ("a.yaml", "domains:\n  - name: a.org\n    aliases:\n      - {address: Info@a.org, goto: [x@b.org]}\n"),
            ("b.yaml", "aliases:\n  - {address: info@A.org, goto: [y@b.org]}\n"),
        ],
    ),
    (
        "alias_differs_from_mailbox_in_case",
        &[("a.yaml", "domains:\n  - name: a.org\n    mailboxes:\n      - local_part: sales\n    aliases:\n      - {address: Sales@a.org, goto: [x@b.org]}\n")],
    ),
    ("recipient_maps_differ_only_in_case", &[("a.yaml", "recipient_maps:\n  - {old: Old@a.org, new: x@b.org}\n  - {old: old@a.org, new: y@b.org}\n")]),
    ("tags_differ_only_in_case", &[("a.yaml", "domains:\n  - name: a.org\n    tags: [VIP, vip, \"\"]\n")]),
    (
        "description_too_long",
        &[(
            "a.yaml",
            "domains:\n  - name: a.org\n    description: dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd\n",
        )],
    ),
    ("mailbox_name_not_one_line", &[("a.yaml", "domains:\n  - name: a.org\n    mailboxes:\n      - local_part: x\n        name: \"Alice\\nBob\"\n")]),
    (
        "address_longer_than_column",
        &[(
            "a.yaml",
            "domains:\n  - name: bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.ddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd.org\n    mailboxes:\n      - local_part: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
        )],
    ),
    ("nexthop_sql_junk", &[("a.yaml", "transports:\n  - {destination: a.org, nexthop: \"'; DROP TABLE transports; --\"}\n")]),
    (
        "nexthop_port_out_of_range",
        &[("a.yaml", "relay_hosts:\n  - name: r\n    hostname: \"[smtp.a.org]:99999\"\ntransports:\n  - {destination: b.org, nexthop: \"[mx.b.org]:0\"}\n")],
    ),
    ("nexthop_with_newline", &[("a.yaml", "relay_hosts:\n  - name: r\n    hostname: \"smtp.a.org\\nrelay_domains = *\"\n")]),
    (
        "credentials_not_one_line",
        &[("a.yaml", "transports:\n  - {destination: a.org, nexthop: \"[mx.a.org]:25\", username: \"u\\nv\", password: \"p\\tq\"}\n")],
    ),
    ("tls_destination_port_zero", &[("a.yaml", "tls_policies:\n  - {destination: \"[mx.a.org]:0\", policy: secure}\n")]),
    (
        "tls_parameters_too_long",
        &[(
            "a.yaml",
            "tls_policies:\n  - {destination: a.org, policy: secure, parameters: \"match=mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm\"}\n",
        )],
    ),
    ("forwarding_host_invalid", &[("a.yaml", "forwarding_hosts:\n  - host: \"mx.a.org; rm -rf\"\n  - host: 10.0.0.0/33\n")]),
    (
        "idp_ldap_host_and_port",
        &[("a.yaml", "identity_provider:\n  ldap:\n    hosts: [\"l1.example,l2.example\"]\n    port: 0\n    base_dn: dc=x\n    bind_dn: cn=y\n")],
    ),
    (
        "mailbox_password_too_long",
        &[(
            "a.yaml",
            "domains:\n  - name: a.org\n    mailboxes:\n      - local_part: x\n        password: \"{SSHA256}AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"\n",
        )],
    ),
    (
        "sogo_view_lists_too_long",
        &[(
            "a.yaml",
            "domains:\n  - name: a.org\n    alias_domains:\n      - name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa00.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.dddddddddddddddddddddddddddddddddddddddd.example\n      - name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.dddddddddddddddddddddddddddddddddddddddd.example\n      - name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa02.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.dddddddddddddddddddddddddddddddddddddddd.example\n      - name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa03.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.dddddddddddddddddddddddddddddddddddddddd.example\n      - name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa04.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.dddddddddddddddddddddddddddddddddddddddd.example\n      - name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa05.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.dddddddddddddddddddddddddddddddddddddddd.example\n      - name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa06.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.dddddddddddddddddddddddddddddddddddddddd.example\n      - name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa07.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.dddddddddddddddddddddddddddddddddddddddd.example\n      - name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa08.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.dddddddddddddddddddddddddddddddddddddddd.example\n      - name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa09.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.dddddddddddddddddddddddddddddddddddddddd.example\n      - name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa10.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.dddddddddddddddddddddddddddddddddddddddd.example\n      - name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa11.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.dddddddddddddddddddddddddddddddddddddddd.example\n      - name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa12.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.dddddddddddddddddddddddddddddddddddddddd.example\n      - name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa13.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.dddddddddddddddddddddddddddddddddddddddd.example\n      - name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa14.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.dddddddddddddddddddddddddddddddddddddddd.example\n      - name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa15.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.dddddddddddddddddddddddddddddddddddddddd.example\n      - name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa16.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.dddddddddddddddddddddddddddddddddddddddd.example\n      - name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa17.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.dddddddddddddddddddddddddddddddddddddddd.example\n      - name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa18.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.dddddddddddddddddddddddddddddddddddddddd.example\n      - name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa19.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.dddddddddddddddddddddddddddddddddddddddd.example\n      - name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa20.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.dddddddddddddddddddddddddddddddddddddddd.example\n      - name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa21.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.dddddddddddddddddddddddddddddddddddddddd.example\n      - name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa22.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.dddddddddddddddddddddddddddddddddddddddd.example\n      - name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa23.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.dddddddddddddddddddddddddddddddddddddddd.example\n      - name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa24.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.dddddddddddddddddddddddddddddddddddddddd.example\n    mailboxes:\n      - local_part: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n        external_sender_acl: [eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee00@fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff.ggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg.hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh.example, eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee01@fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff.ggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg.hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh.example, eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee02@fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff.ggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg.hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh.example, eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee03@fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff.ggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg.hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh.example, eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee04@fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff.ggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg.hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh.example, eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee05@fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff.ggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg.hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh.example, eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee06@fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff.ggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg.hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh.example, eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee07@fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff.ggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg.hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh.example, eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee08@fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff.ggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg.hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh.example, eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee09@fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff.ggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg.hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh.example, eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee10@fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff.ggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg.hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh.example, eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee11@fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff.ggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg.hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh.example, eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee12@fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff.ggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg.hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh.example, eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee13@fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff.ggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg.hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh.example, eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee14@fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff.ggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg.hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh.example, eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee15@fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff.ggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg.hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh.example, eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee16@fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff.ggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg.hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh.example, eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee17@fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff.ggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg.hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh.example, eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee18@fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff.ggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg.hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh.example, eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee19@fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff.ggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg.hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh.example, eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee20@fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff.ggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg.hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh.example, eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee21@fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff.ggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg.hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh.example, eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee22@fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff.ggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg.hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh.example, eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee23@fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff.ggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg.hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh.example, eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee24@fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff.ggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg.hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh.example]\n",
        )],
    ),
    (
        "several_errors_in_several_files_sorted",
        &[
            ("b.yaml", "domains:\n  - name: b.org\n    relay_host: nope\n    mailboxes:\n      - local_part: \"a b\"\n"),
            ("a.yaml", "domains:\n  - name: a.org\n    template: nope\n    aliases:\n      - {address: x@a.org, goto: [x@a.org]}\n"),
            ("c.yaml", "tls_policies:\n  - {destination: \"x@y\", policy: secure}\n"),
        ],
    ),
];

fn render(dir: &std::path::Path) -> String {
    let loaded = kinds::load_dir(dir).unwrap();
    let shown: Vec<String> = loaded.diagnostics.iter().map(|d| d.render(&loaded.sources, false)).collect();
    shown.join("\n")
}

#[test]
fn every_rule_reports_its_exact_diagnostic() {
    assert!(CASES.len() >= 60, "the corpus has {} cases", CASES.len());
    for (name, files) in CASES {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("desired");
        std::fs::create_dir(&dir).unwrap();
        for (path, text) in *files {
            std::fs::write(dir.join(path), text).unwrap();
        }
        let text = render(&dir);
        assert!(!text.is_empty(), "case {name} reported nothing");
        insta::assert_snapshot!(*name, text);
    }
}

#[test]
fn empty_and_comment_only_files_are_valid() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("empty.yaml"), "").unwrap();
    std::fs::write(root.path().join("comments.yaml"), "# nothing here yet\n\n# still nothing\n").unwrap();
    let loaded = kinds::load_dir(root.path()).unwrap();
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    assert_eq!(loaded.documents.len(), 2);
}

fn fails_fast(name: &str, text: &str, codes: &[&str]) {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join(name), text).unwrap();
    let started = std::time::Instant::now();
    let loaded = kinds::load_dir(root.path()).unwrap();
    assert!(loaded.diagnostics.iter().any(|d| codes.contains(&d.code)), "{name}: {:?}", loaded.diagnostics);
    // Not a timing assertion: a hang would never get here; this only documents the expectation.
    eprintln!("{name}: rejected in {:?}", started.elapsed());
}

#[test]
fn huge_files_are_refused_before_parsing() {
    let line = "# padding padding padding padding padding padding padding padding padding padding\n";
    let text = line.repeat(70 * 1024 * 1024 / line.len() + 1);
    fails_fast("huge.yaml", &text, &["file-too-large"]);
}

#[test]
fn deep_nesting_fails_fast() {
    let text = format!("domains: {}{}\n", "[".repeat(1000), "]".repeat(1000));
    fails_fast("deep.yaml", &text, &["yaml-too-complex"]);
}

#[test]
fn alias_bombs_fail_fast() {
    // Billion laughs: nine levels of nine-fold aliases, 9^9 strings if expanded.
    let mut text = String::from("domains:\n  - name: a.org\n    tags: &a [x, x, x, x, x, x, x, x, x]\n");
    let mut prev = "a".to_string();
    for (i, n) in ["b", "c", "d", "e", "f", "g", "h", "i"].iter().enumerate() {
        let refs = vec![format!("*{prev}"); 9].join(", ");
        text.push_str(&format!("  - name: d{i}.org\n    tags: &{n} [{refs}]\n"));
        prev = n.to_string();
    }
    fails_fast("bomb.yaml", &text, &["yaml-too-complex", "invalid-type"]);
}
