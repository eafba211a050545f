"""The channels against real local receivers: an HTTPS webhook, SMTP with STARTTLS or TLS."""

import socket

import pytest
from alert_support import blocked_alert, smtp_server, webhook_receiver
from pydantic import SecretStr

from ml_connector_dagster.alerts.channels import DeliveryError
from ml_connector_dagster.alerts.smtp import EmailChannel
from ml_connector_dagster.alerts.teams import TeamsChannel

SIG = "sig=Zq8yW3vN5mK2pL7xJ4cR9tB6Hd7Gf2Ks"
PATH = f"/workflows/8d2c/triggers/manual/paths/invoke?api-version=1&{SIG}"
PASSWORD = "smtp-Po9Iu6Yt3Re8Wq1Lk5Jh2Gf4"


def _teams(port: int, ca: str | None) -> TeamsChannel:
    return TeamsChannel(SecretStr(f"https://127.0.0.1:{port}{PATH}"), ca_bundle=ca, timeout=5)


def _facts_in(text: str) -> None:
    for expected in ("USMF", "2026-11-15", "175,772.44 USD", "/runs/run-7f3a", "D110"):
        assert expected in text


def test_teams_posts_the_card_over_verified_tls(tls) -> None:
    with webhook_receiver(tls) as receiver:
        _teams(receiver.port, str(tls.ca_cert)).send(blocked_alert())
    [post] = receiver.posts
    assert receiver.paths == [PATH]
    _facts_in(str(post))


def test_teams_refuses_a_receiver_it_does_not_trust(tls) -> None:
    """Without the CA bundle the local CA is unknown: refused, and the error says what to set."""
    with webhook_receiver(tls) as receiver, pytest.raises(DeliveryError) as caught:
        _teams(receiver.port, None).send(blocked_alert())
    assert receiver.posts == []
    assert "not trusted" in str(caught.value) and "ML_CONNECTOR_CA_BUNDLE" in str(caught.value)


@pytest.mark.parametrize("status,answer", [(500, "boom"), (400, f"bad request to {PATH}")])
def test_a_refused_post_names_the_status_and_never_the_url(tls, status, answer) -> None:
    with webhook_receiver(tls) as receiver, pytest.raises(DeliveryError) as caught:
        receiver.status, receiver.answer = status, answer
        _teams(receiver.port, str(tls.ca_cert)).send(blocked_alert())
    text = str(caught.value)
    assert f"HTTP {status}" in text and "127.0.0.1" in text
    assert SIG not in text and "workflows/8d2c" not in text


def test_a_refused_connection_never_shows_the_url(tls) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DeliveryError) as caught:
        _teams(port, str(tls.ca_cert)).send(blocked_alert())
    assert "could not connect to 127.0.0.1" in str(caught.value)
    assert SIG not in str(caught.value)


def test_a_legacy_connector_webhook_must_answer_1() -> None:
    channel = TeamsChannel(SecretStr("https://acme.webhook.office.com/webhookb2/x"))
    assert channel.host == "acme.webhook.office.com"  # the host decides how answers read
    assert SIG not in repr(_teams(1, None)) and "workflows" not in repr(_teams(1, None))


def _email(port: int, tls, security: str = "starttls", password: str | None = PASSWORD):
    return EmailChannel(
        host="127.0.0.1",
        port=port,
        security=security,
        sender="connector@acme.test",
        recipients=("finance@acme.test", "ops@acme.test"),
        user="alerts@acme.test" if password is not None else None,
        password=SecretStr(password) if password is not None else None,
        ca_bundle=str(tls.ca_cert),
        timeout=5,
    )


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_email_arrives_over_tls_after_login(tls, security: str) -> None:
    with smtp_server(tls, security=security, password=PASSWORD) as box:
        _email(box.port, tls, security).send(blocked_alert())
    [mail] = box.mails
    assert box.logins == ["alerts@acme.test"]
    assert mail.mail_from == "connector@acme.test"
    assert mail.rcpt_tos == ["finance@acme.test", "ops@acme.test"]
    _facts_in(mail.content.decode())


def test_email_without_a_user_sends_without_login(tls) -> None:
    with smtp_server(tls) as box:
        _email(box.port, tls, password=None).send(blocked_alert())
    assert len(box.mails) == 1 and box.logins == []


def test_a_server_without_starttls_is_never_used_in_clear(tls) -> None:
    with smtp_server(tls, starttls=False) as box, pytest.raises(DeliveryError) as caught:
        _email(box.port, tls, password=None).send(blocked_alert())
    assert box.mails == [] and "STARTTLS" in str(caught.value)


def test_a_refused_login_names_the_user_never_the_password(tls) -> None:
    with smtp_server(tls, password="the-right-one") as box, pytest.raises(DeliveryError) as e:
        _email(box.port, tls).send(blocked_alert())
    assert box.mails == [] and "alerts@acme.test" in str(e.value)
    assert PASSWORD not in str(e.value)


def test_a_user_without_a_password_is_a_configuration_error(tls) -> None:
    with pytest.raises(ValueError, match="ML_CONNECTOR_SMTP_PASSWORD"):
        EmailChannel(
            host="h", port=587, security="starttls", sender="a@b.c", recipients=("d@e.f",),
            user="someone",
        )  # fmt: skip
