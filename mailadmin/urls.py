from django.urls import include, path, register_converter

from accounts import apppasswords
from accounts import views as accounts
from audit import views as audit
from core.urls import DomainNameConverter, LocalPartConverter
from dnsrecords import views as dnsrecords
from domains import views as domains
from export import views as export
from factors import admin_views as factor_admin
from factors import views as factors
from transfer import views as transfer

# Names in URLs are stored forms (A-labels, lowercase local parts): anything else, a NUL byte
# included, is a 404 before any query.
register_converter(DomainNameConverter, "domain")
register_converter(LocalPartConverter, "localpart")

urlpatterns = [
    path("", domains.dashboard, name="dashboard"),
    path("", include("api.urls")),  # the REST API under /api/v1/, and the admins' API tokens page
    path("", include("adopt.urls")),  # adopting a host built by hand (superadmins)
    path("login/", factors.login_view, name="login"),
    path("logout/", factors.logout_view, name="logout"),
    path("login/passkey/options/", factors.login_passkey_options, name="login_passkey_options"),
    path("login/passkey/", factors.login_passkey, name="login_passkey"),
    path("login/second-factor/", factors.login_second_factor, name="login_second_factor"),
    path("login/second-factor/options/", factors.login_second_factor_options, name="login_second_factor_options"),
    path("security/", factors.overview, name="factors"),
    path("security/confirm/", factors.confirm_identity, name="confirm_identity"),
    path("security/passkeys/options/", factors.passkey_options, name="passkey_options"),
    path("security/passkeys/new/", factors.passkey_add, name="passkey_add"),
    path("security/passkeys/<int:passkey_id>/remove/", factors.passkey_remove, name="passkey_remove"),
    path("security/authenticator-app/", factors.totp_setup, name="totp_setup"),
    path("security/authenticator-app/remove/", factors.totp_remove, name="totp_remove"),
    path("security/recovery-codes/", factors.recovery_codes, name="recovery_codes"),
    path("security/passwordless/", factors.passwordless, name="passwordless"),
    path("admins/second-factors/", factor_admin.factor_policy, name="factor_policy"),
    path("admins/<int:admin_id>/second-factors/", factor_admin.admin_factors, name="admin_factors"),
    path("account/", accounts.account, name="account"),
    path("audit/", audit.audit_log, name="audit"),
    path("config/", export.config_status, name="config_status"),
    path("config/apply/", export.config_apply, name="config_apply"),
    path("config/replace-hand-built/", export.config_replace_hand_built, name="config_replace_hand_built"),
    path("admins/", accounts.admin_list, name="admin_list"),
    path("postmaster/", accounts.postmaster, name="postmaster"),
    path("csv/", transfer.transfer_page, name="csv_transfer"),
    path("csv/export.csv", transfer.export_csv, name="csv_export"),
    path("csv/import/", transfer.import_csv, name="csv_import"),
    path("csv/import/<int:job_id>/", transfer.import_job, name="csv_import_job"),
    path("csv/import/<int:job_id>/confirm/", transfer.import_confirm, name="csv_import_confirm"),
    path("csv/import/<int:job_id>/cancel/", transfer.import_cancel, name="csv_import_cancel"),
    path("admins/new/", accounts.admin_form, name="admin_create"),
    path("admins/<int:admin_id>/", accounts.admin_form, name="admin_edit"),
    path("domains/new/", domains.domain_create, name="domain_create"),
    path("dns/all.zone", dnsrecords.dns_zone_all, name="dns_zone_all"),
    path(".well-known/mta-sts.txt", dnsrecords.mta_sts_txt, name="mta_sts_txt"),
    path("mail/config-v1.1.xml", accounts.autoconfig, name="autoconfig"),
    path(".well-known/autoconfig/mail/config-v1.1.xml", accounts.autoconfig, name="autoconfig_well_known"),
    # Outlook asks with either spelling.
    path("autodiscover/autodiscover.xml", accounts.autodiscover, name="autodiscover"),
    path("Autodiscover/Autodiscover.xml", accounts.autodiscover, name="autodiscover_capitalised"),
    path("account/mail.mobileconfig", accounts.mobileconfig, name="mobileconfig"),
    path("account/vacation/", accounts.vacation_and_forwarding, name="vacation"),
    path("account/app-passwords/", apppasswords.app_passwords, name="app_passwords"),
    path("account/app-passwords/<int:app_password_id>/revoke/", apppasswords.revoke, name="app_password_revoke"),
    path("account/app-passwords/only/", apppasswords.only_app_passwords, name="app_passwords_only"),
    path("account/app-passwords/profile/", apppasswords.profile, name="app_password_profile"),
    path("domains/<domain:name>/", accounts.domain_detail, name="domain_detail"),
    path("domains/<domain:name>/edit/", domains.domain_edit, name="domain_edit"),
    path("domains/<domain:name>/delete/", domains.domain_delete, name="domain_delete"),
    path("domains/<domain:name>/dns/", dnsrecords.dns_page, name="dns_page"),
    path("domains/<domain:name>/dns/check/", dnsrecords.dns_check, name="dns_check"),
    path("domains/<domain:name>/dns/check/<int:index>/", dnsrecords.dns_check_one, name="dns_check_one"),
    path("domains/<domain:name>/dns/zone/", dnsrecords.dns_zone, name="dns_zone"),
    path("domains/<domain:name>/dns/policy/", dnsrecords.policy_edit, name="policy_edit"),
    path("domains/<domain:name>/dns/dkim/new/", dnsrecords.dkim_create, name="dkim_create"),
    path("domains/<domain:name>/dns/dkim/<int:key_id>/activate/", dnsrecords.dkim_activate, name="dkim_activate"),
    path("domains/<domain:name>/dns/dkim/<int:key_id>/remove/", dnsrecords.dkim_remove, name="dkim_remove"),
    path("domains/<domain:name>/mailboxes/new/", accounts.mailbox_create, name="mailbox_create"),
    path("domains/<domain:name>/mailboxes/<localpart:local_part>/", accounts.mailbox_edit, name="mailbox_edit"),
    path(
        "domains/<domain:name>/mailboxes/<localpart:local_part>/toggle/", accounts.mailbox_toggle, name="mailbox_toggle"
    ),
    path(
        "domains/<domain:name>/mailboxes/<localpart:local_part>/delete/", accounts.mailbox_delete, name="mailbox_delete"
    ),
    path(
        "domains/<domain:name>/mailboxes/<localpart:local_part>/second-factors/",
        factor_admin.mailbox_factors,
        name="mailbox_factors",
    ),
    path("domains/<domain:name>/aliases/new/", accounts.alias_create, name="alias_create"),
    path("domains/<domain:name>/aliases/<int:alias_id>/", accounts.alias_edit, name="alias_edit"),
    path("domains/<domain:name>/aliases/<int:alias_id>/delete/", accounts.alias_delete, name="alias_delete"),
]
