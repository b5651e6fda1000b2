"""The one configuration system: pydantic-settings models from overrides > ``ALPR__*`` env > TOML > defaults.

:class:`Settings` is the base of :class:`alpr.config.PipelineConfig` and
:class:`alpr.bridge.config.BridgeConfig`; the environment scheme both follow is described once, in the
README's "Configuration" section. Constructing a settings class directly (``PipelineConfig(...)``)
takes exactly the values given plus the defaults; only :func:`load_settings` (behind each
``load_config``) reads a TOML file and an environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from alpr._compat import tomllib
from alpr.errors import ConfigError

__all__ = ["ENV_PREFIX", "EnvSource", "Settings", "TomlSource", "load_settings", "read_toml"]

ENV_PREFIX = "ALPR__"

S = TypeVar("S", bound="Settings")

# The sources below the explicit values while load_settings runs (none outside it).
_SOURCES: ContextVar[tuple[PydanticBaseSettingsSource, ...]] = ContextVar("alpr_settings_sources", default=())


class Settings(BaseSettings):
    """Frozen, unknown keys rejected, env ``ALPR__<KEY>__<SUBKEY>`` (lists and tables as JSON)."""

    model_config = SettingsConfigDict(
        extra="forbid",
        frozen=True,
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_ignore_empty=True,
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The explicit values first, then what :func:`load_settings` put below them (highest first)."""
        return (init_settings, *_SOURCES.get())


class EnvSource(EnvSettingsSource):
    """The ``ALPR__*`` variables of ``environ`` (not necessarily ``os.environ``)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        # Same normalisation as pydantic-settings' own (names case-insensitive, empty values unset).
        return {
            k if self.case_sensitive else k.lower(): v
            for k, v in self._environ.items()
            if not (self.env_ignore_empty and v == "")
        }


class TomlSource(InitSettingsSource):
    """A TOML document already read (with :func:`read_toml`), below the environment."""


def read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The TOML document at ``path``.

    Raises:
        ConfigError: the file is missing or unreadable, or not valid TOML.
    """
    p = Path(path)
    try:
        data: dict[str, Any] = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {p}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config {p}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: invalid TOML: {exc}") from None
    return data


def load_settings(
    cls: type[S],
    overrides: Mapping[str, Any],
    *sources: PydanticBaseSettingsSource,
    where: str,
    echo_input: bool = True,
    drop_loc: frozenset[str] = frozenset(),
) -> S:
    """``cls`` from ``overrides`` (highest), then ``sources`` in order, then defaults; nested tables merge.

    Args:
        cls: The settings class.
        overrides: Explicit values (keyword arguments, command-line flags).
        *sources: Lower sources, highest first (e.g. ``EnvSource``, then ``TomlSource``).
        where: What the error message starts with (``"alpr.toml: invalid config"``).
        echo_input: Quote the rejected value in error messages (off where values may be secrets).
        drop_loc: Error location parts to leave out (the tags of discriminated unions).

    Raises:
        ConfigError: a value fails validation or an unknown key is given; the message names each key
            (``detector.conf_threshold: ...``).
    """
    token = _SOURCES.set(sources)
    try:
        return cls(**overrides)
    except SettingsError as exc:
        # pydantic-settings could not decode an environment value (lists and tables are JSON).
        cause = f": {exc.__cause__}" if exc.__cause__ else ""
        raise ConfigError(f"{where}: {exc}{cause} (lists and tables in ALPR__* variables are JSON)") from None
    except ValidationError as exc:
        raise ConfigError(f"{where}: {describe(exc, echo_input=echo_input, drop_loc=drop_loc)}") from None
    finally:
        _SOURCES.reset(token)


def describe(exc: ValidationError, *, echo_input: bool = True, drop_loc: frozenset[str] = frozenset()) -> str:
    """One ``key.path: message`` per error, joined by ``; ``."""
    out = []
    for err in exc.errors():
        key = ".".join(str(x) for x in err["loc"] if x not in drop_loc) or "config"
        msg = err["msg"].removeprefix("Value error, ")
        got = f" (got {err.get('input')!r})" if echo_input and err["type"] != "missing" else ""
        out.append(f"{key}: {msg}{got}")
    return "; ".join(out)
