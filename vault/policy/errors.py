"""The one failure of the Postfix-facing wire formats: input that breaks the protocol.

MailvaultError (vault.errors)
 └── ProtocolError   a policy request or socketmap netstring that cannot be parsed
"""

from __future__ import annotations

from vault.errors import MailvaultError


class ProtocolError(MailvaultError):
    """The peer sent bytes that break the protocol; the connection cannot go on.

    The message names the problem and never quotes the input, because the input holds addresses
    and the message ends up in a log line.
    """
