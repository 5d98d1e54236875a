"""The keyring: a directory holding versioned keys per purpose, sealed under a key-encryption key.

On disk, ``<keys dir>/keyring.json`` is a small JSON header (format, KEK method and Argon2id
parameters, demo flag) and the key entries sealed with AES-256-GCM under the KEK, the header
being the associated data so that no parameter can be edited unnoticed.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import secrets
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from vault.crypto import primitives
from vault.errors import (
    DemoKeysRefused,
    InvalidCiphertext,
    KeyNotAvailable,
    KeyringError,
    KeyringNotFound,
    UnknownKey,
    WrongKek,
)

KEYRING_FILE = "keyring.json"
FORMAT = "mailvault-keyring"
FORMAT_VERSION = 1

# Argon2id defaults: RFC 9106's second recommended option (64 MiB, t=3), parallelism 4.
DEFAULT_TIME_COST = 3
DEFAULT_MEMORY_KIB = 64 * 1024
DEFAULT_PARALLELISM = 4


class Purpose(StrEnum):
    """What a key is for. Purposes never share material."""

    ADDRESS = "address"
    AUDIT = "audit"
    INDEX = "index"
    SUPPRESSION = "suppression"
    TOKEN = "token"  # noqa: S105 - a purpose name, not a secret


class KeyStatus(StrEnum):
    PRIMARY = "primary"  # writes new ciphertexts/digests; reads too
    ACTIVE = "active"  # reads only
    RETIRED = "retired"  # material destroyed; the entry stays so its id is never reused


@dataclass(frozen=True, slots=True)
class Key:
    id: int
    purpose: Purpose
    version: int
    status: KeyStatus
    created_at: datetime
    material: bytes | None = field(repr=False)
    list_id: str | None = None  # a list's own data key (crypto-shredding), else None
    retired_at: datetime | None = None

    @property
    def label(self) -> str:
        scope = f" list {self.list_id}" if self.list_id else ""
        return f"{self.purpose}#{self.version}{scope} (id {self.id:08x})"

    def secret(self) -> bytes:
        if self.material is None:
            raise KeyNotAvailable(f"key {self.label} is retired; its material was destroyed")
        return self.material


@dataclass(frozen=True, slots=True)
class Kek:
    """Where the key-encryption key comes from: a passphrase (stretched) or a KEK file."""

    passphrase: str | None = field(default=None, repr=False)
    file: Path | None = None

    def __post_init__(self) -> None:
        if (self.passphrase is None) == (self.file is None):
            raise KeyringError("give either a KEK passphrase or a KEK file, not both or neither")

    def describe(self) -> str:
        return f"the KEK file {self.file}" if self.file else "the key-encryption passphrase"


class Keyring:
    """An opened keyring. Mutations change this object; ``save()`` writes the file atomically."""

    def __init__(self, *, path: Path, header: dict[str, Any], kek: bytes, keys: list[Key]) -> None:
        self.path = path
        self._header = header
        self._kek = kek
        self._keys = keys
        self._by_id = {k.id: k for k in keys}

    # -- reading ---------------------------------------------------------------------------
    @property
    def demo(self) -> bool:
        return bool(self._header.get("demo"))

    def entries(self, purpose: Purpose | None = None) -> list[Key]:
        chosen = [k for k in self._keys if purpose is None or k.purpose == purpose]
        return sorted(chosen, key=lambda k: (k.purpose, k.list_id or "", k.version))

    def get(self, key_id: int) -> Key:
        """A key that can still be used for reading, or ``UnknownKey``."""
        key = self._by_id.get(key_id)
        if key is None:
            raise UnknownKey(f"no key with id {key_id:08x} in {self.path}")
        if key.material is None:
            raise UnknownKey(f"key {key.label} is retired; data sealed under it is unreadable")
        return key

    def primary(self, purpose: Purpose, *, list_id: str | None = None) -> Key:
        for key in self._keys:
            if (key.purpose, key.status, key.list_id) == (purpose, KeyStatus.PRIMARY, list_id):
                return key
        if list_id is not None:
            return self.primary(purpose)
        raise KeyNotAvailable(f"the keyring {self.path} has no primary {purpose} key")

    def live(self, purpose: Purpose) -> list[Key]:
        """Every key of a purpose that can still read, primary first, then newest first."""
        usable = [
            k
            for k in self._keys
            if k.purpose == purpose and k.material is not None and k.list_id is None
        ]
        return sorted(usable, key=lambda k: (k.status != KeyStatus.PRIMARY, -k.version))

    @property
    def fingerprint(self) -> str:
        """Changes whenever the key set changes; services compare it to notice a new keyring."""
        parts = [f"{k.id}:{k.status}" for k in self._keys]
        return hashlib.sha256("|".join(sorted(parts)).encode()).hexdigest()[:16]

    # -- changing --------------------------------------------------------------------------
    def add_version(self, purpose: Purpose, *, list_id: str | None = None) -> Key:
        """A new key for the purpose becomes primary; the previous primary stays for reading."""
        now = datetime.now(UTC)
        same = [k for k in self._keys if k.purpose == purpose and k.list_id == list_id]
        version = max((k.version for k in same), default=0) + 1
        for old in same:
            if old.status == KeyStatus.PRIMARY:
                self._replace(replace(old, status=KeyStatus.ACTIVE))
        key = Key(
            id=self._new_id(),
            purpose=purpose,
            version=version,
            status=KeyStatus.PRIMARY,
            created_at=now,
            material=primitives.random_bytes(primitives.KEY_BYTES),
            list_id=list_id,
        )
        self._keys.append(key)
        self._by_id[key.id] = key
        return key

    def retire(self, key_id: int) -> Key:
        """Destroy a key's material. The primary key of a purpose cannot be retired."""
        key = self._by_id.get(key_id)
        if key is None:
            raise UnknownKey(f"no key with id {key_id:08x} in {self.path}")
        if key.status == KeyStatus.PRIMARY and key.list_id is None:
            raise KeyringError(f"{key.label} is primary; rotate before retiring it")
        retired = replace(
            key, status=KeyStatus.RETIRED, material=None, retired_at=datetime.now(UTC)
        )
        self._replace(retired)
        return retired

    def _replace(self, key: Key) -> None:
        self._keys = [key if k.id == key.id else k for k in self._keys]
        self._by_id[key.id] = key

    def _new_id(self) -> int:
        while True:
            # 31 bits: fits a signed 32-bit column on every database; never 0.
            candidate = secrets.randbits(31)
            if candidate and candidate not in self._by_id:
                return candidate

    def rekey(self, kek: Kek, **argon2: int) -> None:
        """Seal the same keys under a new KEK from now on (written by ``save``)."""
        self._header, self._kek = _new_header(kek, demo=self.demo, **argon2)

    def save(self) -> None:
        payload = json.dumps({"keys": [_key_to_json(k) for k in self._keys]}).encode()
        aad = _canonical(self._header)
        nonce, sealed = primitives.kek_seal(self._kek, payload, aad)
        document = dict(self._header)
        document["nonce"] = _b64(nonce)
        document["sealed"] = _b64(sealed)
        write_atomically(self.path, json.dumps(document, indent=2).encode() + b"\n")


# -- creating and opening ------------------------------------------------------------------
def create_keyring(
    keys_dir: Path,
    kek: Kek,
    *,
    demo: bool = False,
    purposes: Iterable[Purpose] = tuple(Purpose),
    time_cost: int = DEFAULT_TIME_COST,
    memory_cost_kib: int = DEFAULT_MEMORY_KIB,
    parallelism: int = DEFAULT_PARALLELISM,
) -> Keyring:
    """Create a keyring with one primary key per purpose. Refuses to overwrite one."""
    path = Path(keys_dir) / KEYRING_FILE
    if path.exists():
        raise KeyringError(f"{path} already exists; mailvault will not overwrite a keyring")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    header, kek_bytes = _new_header(
        kek,
        demo=demo,
        time_cost=time_cost,
        memory_cost_kib=memory_cost_kib,
        parallelism=parallelism,
    )
    ring = Keyring(path=path, header=header, kek=kek_bytes, keys=[])
    for purpose in purposes:
        ring.add_version(purpose)
    ring.save()
    return ring


def open_keyring(keys_dir: Path, kek: Kek, *, allow_demo: bool) -> Keyring:
    path = Path(keys_dir) / KEYRING_FILE
    if not Path(keys_dir).is_dir():
        raise KeyringNotFound(
            f"the keys directory {keys_dir} does not exist; create one with `mailvault keys init`"
        )
    try:
        document = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise KeyringNotFound(
            f"{path} does not exist; create a keyring with `mailvault keys init`"
        ) from None
    except (OSError, ValueError) as exc:
        raise KeyringError(f"{path} is not a readable keyring ({type(exc).__name__})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise KeyringError(f"{path} is not a mailvault keyring")
    if document.get("format_version") != FORMAT_VERSION:
        raise KeyringError(f"{path} has keyring format {document.get('format_version')!r}")
    if document.get("demo") and not allow_demo:
        raise DemoKeysRefused(
            f"{keys_dir} holds the example keyring, which is public and only for demos; "
            "create your own with `mailvault keys init`, or pass --demo (MAILVAULT_DEMO=1)"
        )
    header = {k: v for k, v in document.items() if k not in ("nonce", "sealed")}
    try:
        kek_bytes = _derive_kek(kek, header["kek"], path)
        nonce, sealed = _unb64(document["nonce"]), _unb64(document["sealed"])
    except (KeyError, TypeError, ValueError):
        raise KeyringError(f"{path} is damaged (a header field is missing or malformed)") from None
    try:
        payload = primitives.kek_open(kek_bytes, nonce, sealed, _canonical(header))
    except InvalidCiphertext:
        raise WrongKek(f"{kek.describe()} does not open {path}") from None
    keys = [_key_from_json(item) for item in json.loads(payload)["keys"]]
    return Keyring(path=path, header=header, kek=kek_bytes, keys=keys)


def generate_kek_file(path: Path) -> None:
    """Write a new random KEK file (base64 text, mode 0600)."""
    if path.exists():
        raise KeyringError(f"{path} already exists; mailvault will not overwrite a KEK file")
    secret = _b64(primitives.random_bytes(primitives.KEY_BYTES)) + "\n"
    write_atomically(path, secret.encode())


def _read_kek_file(path: Path) -> bytes:
    try:
        text = path.read_text().strip()
    except OSError:
        raise KeyringError(f"cannot read the KEK file {path}") from None
    try:
        raw = _unb64(text)
    except ValueError:
        raw = b""
    if len(raw) != primitives.KEY_BYTES:
        raise KeyringError(f"the KEK file {path} does not hold a base64 32-byte key")
    return raw


def _new_header(
    kek: Kek,
    *,
    demo: bool,
    time_cost: int = DEFAULT_TIME_COST,
    memory_cost_kib: int = DEFAULT_MEMORY_KIB,
    parallelism: int = DEFAULT_PARALLELISM,
) -> tuple[dict[str, Any], bytes]:
    if kek.file is not None:
        raw = _read_kek_file(kek.file)
        spec: dict[str, Any] = {"method": "file"}
    else:
        assert kek.passphrase is not None
        if len(kek.passphrase) < 12 and not demo:
            raise KeyringError("the key-encryption passphrase must be at least 12 characters")
        spec = {
            "method": "argon2id",
            "salt": _b64(primitives.random_bytes(16)),
            "time_cost": time_cost,
            "memory_cost_kib": memory_cost_kib,
            "parallelism": parallelism,
        }
        raw = primitives.stretch_passphrase(
            kek.passphrase,
            salt=_unb64(spec["salt"]),
            time_cost=time_cost,
            memory_cost_kib=memory_cost_kib,
            parallelism=parallelism,
        )
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "demo": demo, "kek": spec}
    return header, raw


def _derive_kek(kek: Kek, spec: dict[str, Any], path: Path) -> bytes:
    method = spec["method"]
    if method == "file":
        if kek.file is None:
            raise WrongKek(f"{path} is sealed with a KEK file; set MAILVAULT_KEK_FILE")
        return _read_kek_file(kek.file)
    if method == "argon2id":
        if kek.passphrase is None:
            raise WrongKek(f"{path} is sealed with a passphrase; set MAILVAULT_KEK_PASSPHRASE")
        return primitives.stretch_passphrase(
            kek.passphrase,
            salt=_unb64(spec["salt"]),
            time_cost=int(spec["time_cost"]),
            memory_cost_kib=int(spec["memory_cost_kib"]),
            parallelism=int(spec["parallelism"]),
        )
    raise KeyringError(f"{path} uses an unknown KEK method {method!r}")


def _key_to_json(key: Key) -> dict[str, Any]:
    return {
        "id": key.id,
        "purpose": str(key.purpose),
        "version": key.version,
        "status": str(key.status),
        "created_at": key.created_at.isoformat(),
        "material": _b64(key.material) if key.material is not None else None,
        "list_id": key.list_id,
        "retired_at": key.retired_at.isoformat() if key.retired_at else None,
    }


def _key_from_json(item: dict[str, Any]) -> Key:
    return Key(
        id=int(item["id"]),
        purpose=Purpose(item["purpose"]),
        version=int(item["version"]),
        status=KeyStatus(item["status"]),
        created_at=datetime.fromisoformat(item["created_at"]),
        material=_unb64(item["material"]) if item.get("material") else None,
        list_id=item.get("list_id"),
        retired_at=datetime.fromisoformat(item["retired_at"]) if item.get("retired_at") else None,
    )


def _canonical(header: dict[str, Any]) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def write_atomically(path: Path, data: bytes) -> None:
    """Write-then-rename so a crash never leaves half a keyring file; 0600 from the first byte."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
