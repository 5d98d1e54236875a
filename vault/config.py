"""Settings: environment variables over an optional TOML file over defaults.

Relative paths in a TOML file are taken relative to that file, so a store's directory can
hold its own ``mailvault.toml``, database and keys, and several stores can live side by side.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from vault.errors import ConfigError

DEFAULT_DATABASE_URL = "sqlite:///./mailvault.db"
DEFAULT_KEYS_DIR = Path("keys")
#: The documented passphrase of the committed example keyring. Public, hence demo-only.
DEMO_PASSPHRASE = "mailvault-demo-passphrase-not-secret"  # noqa: S105 - public on purpose
#: Where recipients reach ``/u/{token}`` in demo mode (``make run`` serves on this address).
DEMO_PUBLIC_URL = "http://127.0.0.1:8000"


def example_keys_dir() -> Path:
    """``keys.example/`` beside the package (a source checkout or an editable install)."""
    return Path(__file__).resolve().parent.parent / "keys.example"


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    keys_dir: Path = DEFAULT_KEYS_DIR
    kek_passphrase: str | None = field(default=None, repr=False)
    kek_file: Path | None = None
    demo: bool = False
    # The base URL recipients reach the API at, for the one-click unsubscribe links a release
    # adds (``[api] public_url`` / MAILVAULT_PUBLIC_URL). ``mailvault serve`` refuses to start
    # without it outside demo mode; see ``public_base_url``.
    public_url: str | None = None
    # The TOML file's other tables ([retention], [policy], [api], ...) for the parts using them.
    sections: dict[str, Any] = field(default_factory=dict, repr=False)

    def with_demo_defaults(self) -> Settings:
        """In demo mode the example keyring and its passphrase are used unless told otherwise."""
        if not self.demo:
            return self
        keys_dir = self.keys_dir
        if keys_dir == DEFAULT_KEYS_DIR and not keys_dir.exists():
            keys_dir = example_keys_dir()
        passphrase = self.kek_passphrase
        if passphrase is None and self.kek_file is None:
            passphrase = DEMO_PASSPHRASE
        return replace(
            self,
            keys_dir=keys_dir,
            kek_passphrase=passphrase,
            public_url=self.public_url or DEMO_PUBLIC_URL,
        )

    def public_base_url(self) -> str:
        """The configured public URL, checked (https, or http on a loopback address), or a
        ``ConfigError`` that says how to set it. Releases need it for ``List-Unsubscribe``."""
        # Imported here: every module imports the settings, and vault.unsubscribe the models.
        from vault.unsubscribe.tokens import unsubscribe_url

        if not self.public_url:
            raise ConfigError(
                "no public URL for unsubscribe links: set [api] public_url in the TOML settings "
                "or MAILVAULT_PUBLIC_URL to the https:// address recipients reach this API at "
                "(releases add List-Unsubscribe headers that point there)"
            )
        unsubscribe_url(self.public_url, "")  # raises ConfigError unless usable
        return self.public_url.strip().rstrip("/")


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def load_settings(
    *,
    config_file: Path | None = None,
    environ: dict[str, str] | None = None,
    demo: bool | None = None,
    database_url: str | None = None,
    keys_dir: Path | None = None,
) -> Settings:
    env = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    sections: dict[str, Any] = {}
    config_path = config_file or (
        Path(env["MAILVAULT_CONFIG"]) if env.get("MAILVAULT_CONFIG") else None
    )
    if config_path is not None:
        values, sections = _read_toml(config_path)
    api = sections.get("api", {})
    if isinstance(api, dict) and api.get("public_url") is not None:
        values["public_url"] = str(api["public_url"])
    for name, var in (
        ("database_url", "MAILVAULT_DATABASE_URL"),
        ("keys_dir", "MAILVAULT_KEYS_DIR"),
        ("kek_passphrase", "MAILVAULT_KEK_PASSPHRASE"),
        ("kek_file", "MAILVAULT_KEK_FILE"),
        ("public_url", "MAILVAULT_PUBLIC_URL"),
    ):
        if env.get(var):
            values[name] = env[var]
    if "MAILVAULT_DEMO" in env:
        values["demo"] = _truthy(env["MAILVAULT_DEMO"])
    if demo:
        values["demo"] = True
    if database_url:
        values["database_url"] = database_url
    if keys_dir:
        values["keys_dir"] = keys_dir
    for path_field in ("keys_dir", "kek_file"):
        if values.get(path_field) is not None:
            values[path_field] = Path(values[path_field])
    settings = Settings(**values, sections=sections)
    return settings.with_demo_defaults()


_TOP_LEVEL = {"database_url", "keys_dir", "kek_file", "kek_passphrase", "demo"}


def _read_toml(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"the configuration file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"the configuration file {path} cannot be read: {exc}") from None
    main = document.pop("mailvault", {})
    if not isinstance(main, dict):
        raise ConfigError(f"{path}: [mailvault] must be a table")
    unknown = set(main) - _TOP_LEVEL
    if unknown:
        raise ConfigError(
            f"{path}: unknown setting(s) in [mailvault]: {', '.join(sorted(unknown))}"
        )
    base = path.resolve().parent
    values = dict(main)
    for path_field in ("keys_dir", "kek_file"):
        if path_field in values:
            values[path_field] = base / Path(values[path_field])
    url = values.get("database_url")
    if isinstance(url, str) and url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        relative = url[len("sqlite:///") :]
        if relative and relative != ":memory:":
            values["database_url"] = f"sqlite:///{base / relative}"
    return values, document
