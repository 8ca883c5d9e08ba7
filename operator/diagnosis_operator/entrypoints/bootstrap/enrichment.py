"""What the enrichment asks, and where: its settings, from flags, URLs or a policy.

``EnrichmentSettings`` names the MySQL and Redis servers to ask directly and the
bounds of the asking; ``service.enrich`` reads it through the
``ports.EnrichmentOptions`` Protocol, and ``bootstrap.make_enricher`` builds the
adapters it names.
"""

from __future__ import annotations

import urllib.parse
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from diagnosis_operator.adapters.mysql import MySQLConnectionSettings

REDIS_SCHEMES = ("redis", "rediss", "unix")


class EnrichmentSettings(BaseModel):
    """Where to ask directly, and how much.  Every source is optional."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mysql: MySQLConnectionSettings | None = None
    # Explain only the statements of this component's evidence (None: any component's).
    mysql_component: str | None = None
    redis_url: SecretStr | None = None  # may carry a password
    redis_component: str = "redis"
    timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 10.0
    max_statements: Annotated[int, Field(ge=1, le=20)] = 5
    slowlog_limit: Annotated[int, Field(ge=1, le=1024)] = 128
    max_keys_sized: Annotated[int, Field(ge=0, le=50)] = 10

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            scheme = urllib.parse.urlsplit(value.get_secret_value()).scheme
            if scheme not in REDIS_SCHEMES:
                raise ValueError(
                    f"redis URL scheme must be one of {', '.join(REDIS_SCHEMES)}, not {scheme!r}"
                )
        return value

    @property
    def configured(self) -> bool:
        return self.mysql is not None or self.redis_url is not None


def mysql_settings_from_url(*, url: str, password: str | None = None) -> MySQLConnectionSettings:
    """``MySQLConnectionSettings`` from ``mysql://user[:password]@host[:port][/database]``.  Pure.

    ``password`` (e.g. from an environment variable) wins over one in the URL, so
    that no password needs to appear on a command line.  Errors say what is wrong
    and never echo the password.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("mysql", "mariadb"):
        raise ValueError(f"MySQL URL must start with mysql:// or mariadb://, not {parts.scheme!r}")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("MySQL URL: the port is not a number in 1..65535") from None
    if not parts.hostname or not parts.username:
        raise ValueError("MySQL URL must name a user and a host: mysql://user@host:3306/db")
    secret = password if password is not None else parts.password
    if secret is None:
        raise ValueError("MySQL URL: no password (give it in the URL or separately)")
    fields: dict[str, Any] = {
        "host": parts.hostname,
        "user": urllib.parse.unquote(parts.username),
        "password": urllib.parse.unquote(secret) if password is None else secret,
    }
    if port is not None:
        fields["port"] = port
    database = urllib.parse.unquote(parts.path.lstrip("/"))
    if database:
        fields["database"] = database
    try:
        return MySQLConnectionSettings(**fields)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        raise ValueError(f"MySQL URL: {problems}") from None


def describe(settings: EnrichmentSettings) -> str:
    """What will be asked, for logs: servers without credentials."""
    parts = []
    if settings.mysql is not None:
        parts.append(f"mysql {settings.mysql.describe()}")
    if settings.redis_url is not None:
        from diagnosis_operator.adapters.redis import describe_url  # redis-py only when asked

        parts.append(f"redis {describe_url(settings.redis_url.get_secret_value())}")
    return ", ".join(parts) or "nothing"
