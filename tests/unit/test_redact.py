"""Passwords never leave a process: URL and driver-message redaction."""

from schemashift.consumers.common.redact import redact_text, redact_url, url_password


def test_url_password_is_masked():
    assert redact_url("postgresql://app:s3cr%40t@db:5432/x") == "postgresql://app:***@db:5432/x"
    assert redact_url("postgresql://app@db/x") == "postgresql://app@db/x"


def test_text_with_urls_and_password_pairs():
    text = "could not connect postgresql://u:hunter2@h/db (password=hunter2 host=h)"
    out = redact_text(text)
    assert "hunter2" not in out
    assert "postgresql://u:***@h/db" in out


def test_explicit_secrets_are_masked_wherever_they_appear():
    assert redact_text("auth failed for pw Zebra!9", "Zebra!9") == "auth failed for pw ***"


def test_log_records_are_redacted(caplog):
    import logging

    from schemashift.consumers.common.redact import install_log_redaction

    factory = logging.getLogRecordFactory()
    install_log_redaction()
    try:
        with caplog.at_level(logging.INFO):
            logging.getLogger("x").info("connect %s failed", "postgresql://u:Hunter2pw@h/db")
        assert "Hunter2pw" not in caplog.text
        assert "postgresql://u:***@h/db" in caplog.text
    finally:
        logging.setLogRecordFactory(factory)


def test_query_string_and_multi_host_passwords_are_masked():
    assert redact_url("postgresql://u@h/db?password=Qx9&sslmode=require") == (
        "postgresql://u@h/db?password=***&sslmode=require"
    )
    masked = redact_url("postgresql://u:Pw7@h1:5432,h2:5433/db")
    assert masked == "postgresql://u:***@h1:5432,h2:5433/db"


def test_a_password_typed_with_a_raw_at_sign_is_masked_whole():
    url = "postgresql://app:p@ss@db.example:5432/app"
    assert redact_url(url) == "postgresql://app:***@db.example:5432/app"
    assert url_password(url) == "p@ss"


def test_a_password_typed_with_a_raw_slash_and_at_is_masked_whole():
    # Not percent-encoded: the URL parser would end the host at "/"; no part of it may show.
    url = "mysql://app:Canary-1f2e!p@ss:w/rd%@db.internal:3306/app"
    assert redact_url(url) == "mysql://app:***@db.internal:3306/app"
    assert url_password(url) == "Canary-1f2e!p@ss:w/rd%"
