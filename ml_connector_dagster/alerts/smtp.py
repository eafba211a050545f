"""E-mail: the alert as a plain-text mail, over SMTP with STARTTLS or implicit TLS.

Never plain text: the connection is encrypted before any login (``ML_CONNECTOR_SMTP_SECURITY``
``starttls`` on port 587 by default, ``tls`` on 465), verified with the connector's SSL context
(system trust plus ``ML_CONNECTOR_CA_BUNDLE``) and the server's name. A server that does not
offer STARTTLS is refused rather than used unencrypted. Login only when
``ML_CONNECTOR_SMTP_USER`` is set, with the password credential.
"""

import logging
import smtplib
import ssl

from pydantic import SecretStr

from ml_connector_dagster.alerts.channels import DeliveryError, scrub
from ml_connector_dagster.alerts.model import Alert
from ml_connector_dagster.alerts.render import email_message
from ml_connector_dagster.transport.tls import describe_connection_failure, shared_ssl_context

log = logging.getLogger(__name__)


class EmailChannel:
    """Sends alerts from one sender to fixed recipients through one SMTP server."""

    name = "email"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        security: str,
        sender: str,
        recipients: tuple[str, ...],
        user: str | None = None,
        password: SecretStr | None = None,
        ca_bundle: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        if security not in ("starttls", "tls"):
            raise ValueError(f"ML_CONNECTOR_SMTP_SECURITY {security!r}: starttls or tls")
        if user and password is None:
            raise ValueError(
                "ML_CONNECTOR_SMTP_USER is set without a password: set"
                " ML_CONNECTOR_SMTP_PASSWORD or `ml-connector credentials set alerts`"
            )
        self.host, self.port, self.security = host, port, security
        self.sender, self.recipients, self.user = sender, recipients, user
        self._password = password
        self._ca_bundle = ca_bundle
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"EmailChannel(host={self.host!r}, port={self.port}, security={self.security!r})"

    def _secrets(self) -> list[str]:
        return [self._password.get_secret_value()] if self._password is not None else []

    def _connect(self, context: ssl.SSLContext) -> smtplib.SMTP:
        if self.security == "tls":
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self._timeout, context=context)
        server = smtplib.SMTP(self.host, self.port, timeout=self._timeout)
        try:
            server.ehlo()
            if not server.has_extn("starttls"):
                raise DeliveryError(
                    f"SMTP server {self.host}:{self.port} does not offer STARTTLS; alerts are"
                    " never sent unencrypted (ML_CONNECTOR_SMTP_SECURITY=tls for port 465)"
                )
            server.starttls(context=context)
            server.ehlo()
        except BaseException:
            server.close()
            raise
        return server

    def send(self, alert: Alert) -> None:
        where = f"{self.host}:{self.port}"
        try:
            context = shared_ssl_context(self._ca_bundle)
            with self._connect(context) as server:
                if self.user and self._password is not None:
                    server.login(self.user, self._password.get_secret_value())
                refused = server.send_message(
                    email_message(alert, self.sender, self.recipients),
                    from_addr=self.sender,
                    to_addrs=list(self.recipients),
                )
        except DeliveryError:
            raise
        except smtplib.SMTPAuthenticationError as exc:
            text = f"SMTP server {where} refused the login of {self.user}: {exc.smtp_code}"
            raise DeliveryError(scrub(text, self._secrets())) from None
        except smtplib.SMTPResponseException as exc:
            answer = exc.smtp_error.decode("utf-8", "replace") if exc.smtp_error else ""
            text = f"SMTP server {where} answered {exc.smtp_code}: {answer}"
            raise DeliveryError(scrub(text, self._secrets())) from None
        except smtplib.SMTPException as exc:
            text = f"SMTP with {where} failed ({type(exc).__name__}: {exc})"
            raise DeliveryError(scrub(text, self._secrets())) from None
        except (OSError, ssl.SSLError) as exc:
            text = f"SMTP: {describe_connection_failure(exc, where)}"
            raise DeliveryError(scrub(text, self._secrets())) from None
        if refused:
            # The others have it: sending again would repeat it to them, so this counts as
            # delivered, and the refused addresses are said once, here.
            log.warning(
                "SMTP server %s refused alert recipient(s) %s", where, ", ".join(sorted(refused))
            )
