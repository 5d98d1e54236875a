"""The exception tree of mailvault: every failure a user can cause has one name here.

    MailvaultError                  anything mailvault refuses, with a message fit for a user
     ├── ConfigError                settings that cannot work (bad URL, missing keys dir, ...)
     ├── KeyringError               the keyring cannot be opened or changed
     │    ├── KeyringNotFound       no keyring where the settings point
     │    ├── WrongKek              the passphrase or KEK file does not open the keyring
     │    ├── DemoKeysRefused       example keys outside demo mode
     │    └── KeyNotAvailable       no usable key for a purpose or version
     ├── InvalidCiphertext          a ciphertext that does not authenticate, whatever the cause
     │    └── UnknownKey            ... because it names a key this keyring does not hold
     ├── InvalidAddress             an address that cannot be normalized (names the problem)
     ├── InputError                 a file or row that cannot be read (CSV, encoding, columns)
     ├── ParserStopped              a parser worker process died in the middle of an ingest run
     ├── NotFound                   a named list, subscriber or mailing does not exist
     │    └── InvalidToken          an unsubscribe token that does not verify (forged, altered)
     ├── Conflict                   the request contradicts the current state
     └── PermissionDenied           the principal's roles do not grant the action

The CLI prints ``str(error)`` on one line and exits non-zero; the HTTP API maps the tree to
problem+json statuses in one place (``vault.api.errors``).
"""

from __future__ import annotations


class MailvaultError(Exception):
    """Base of every error mailvault raises on purpose."""

    exit_code = 1


class ConfigError(MailvaultError):
    exit_code = 2


class KeyringError(MailvaultError):
    exit_code = 3


class KeyringNotFound(KeyringError):
    pass


class WrongKek(KeyringError):
    pass


class DemoKeysRefused(KeyringError):
    pass


class KeyNotAvailable(KeyringError):
    pass


class InvalidCiphertext(MailvaultError):
    """A ciphertext failed to authenticate: tampered, truncated, moved to another row, or
    sealed under a key this keyring does not hold. Never returns garbage plaintext."""

    exit_code = 4


class UnknownKey(InvalidCiphertext):
    pass


class InvalidAddress(MailvaultError, ValueError):
    """Raised by address parsing; the message names the problem, never the address."""

    exit_code = 5


class InputError(MailvaultError):
    exit_code = 5


class ParserStopped(MailvaultError):
    """A parser worker process died (killed, out of memory) before message ``position``
    (counted from 1) was parsed; every message before it was parsed and handed on. Nothing a
    message holds causes this: every parser error is caught and the message reported instead."""

    exit_code = 70  # sysexits.h EX_SOFTWARE

    def __init__(self, position: int) -> None:
        super().__init__(f"a parser process stopped before message {position} was parsed")
        self.position = position


class NotFound(MailvaultError):
    exit_code = 6


class InvalidToken(NotFound):
    """A link token that does not verify, whatever the cause: to its holder it names nothing,
    so the HTTP API answers 404 and changes nothing."""


class Conflict(MailvaultError):
    exit_code = 7


class PermissionDenied(MailvaultError):
    exit_code = 8
