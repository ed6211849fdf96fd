"""Settings: one validated object built from ``SF_*`` variables and an optional TOML file.

Precedence, highest first: arguments given in code (the CLI's flags), environment
variables, the TOML file named by ``SF_CONFIG_FILE``, then the embedded defaults
below. The defaults run everything offline: an SQLite file and a content folder
under ``SF_DATA_DIR``, the in-process chain and the local renderer.

The settings are grouped by concern (``settings.chain``, ``.providers``,
``.storage``, ``.jobs``, ``.limits``, ``.http``, ``.alerts``); each group checks
its own rules. The names operators use stay flat: a field's environment
variable is ``SF_`` + its name (``settings.jobs.workers`` is ``SF_WORKERS``), and
TOML files and keyword overrides use the same flat names.
"""

from __future__ import annotations

import os
import re
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, ClassVar

import platformdirs
from pydantic import AfterValidator, AliasChoices, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from sf_mcp.errors import ConfigError

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


def normalize_address(value: str) -> str:
    """Return ``value`` as a lower-case 0x address, or raise ValueError naming it."""
    if not isinstance(value, str) or not _ADDRESS.match(value.strip()):
        raise ValueError(f"{value!r} is not a 0x-prefixed 20-byte hex address")
    return value.strip().lower()


Address = Annotated[str, AfterValidator(normalize_address)]


class ContentBackend(StrEnum):
    LOCAL = "local"  # content-addressed files under SF_DATA_DIR/content
    S3 = "s3"  # any S3-compatible bucket (AWS S3, Cloudflare R2, MinIO)


class _Group(BaseSettings):
    """A group of settings: read from ``SF_<FIELD>`` by :class:`Settings`, never on its own."""

    model_config = SettingsConfigDict(env_prefix="SF_", extra="forbid", validate_default=True, populate_by_name=True)


class StorageSettings(_Group):
    """Where the database and the generated media live."""

    data_dir: Path = Field(
        default_factory=lambda: Path(platformdirs.user_data_dir("sf-mcp")),
        description="Holds the database, content and deployment files.",
    )
    database_url: str | None = Field(
        default=None,
        description="sqlite:///path or postgresql://user:password@host/db (default: sf-mcp.db in the data dir).",
    )
    content_backend: ContentBackend = ContentBackend.LOCAL
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str = "auto"
    s3_access_key_id: SecretStr | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_public_base_url: str | None = None

    @model_validator(mode="after")
    def _s3_needs_a_bucket(self) -> StorageSettings:
        if self.content_backend is ContentBackend.S3 and not self.s3_bucket:
            raise ValueError("SF_S3_BUCKET is required when SF_CONTENT_BACKEND=s3")
        return self

    @property
    def database(self) -> str:
        """The database URL: SF_DATABASE_URL, or the data dir's SQLite file."""
        if self.database_url:
            scheme = self.database_url.split(":", 1)[0].split("+", 1)[0]
            if scheme not in ("sqlite", "postgresql", "postgres"):
                raise ConfigError("SF_DATABASE_URL: use sqlite:///path or postgresql://user:password@host/db, "
                                  f"not a {scheme!r} URL")
            return self.database_url
        return f"sqlite:///{self.data_dir / 'sf-mcp.db'}"

    @property
    def content_dir(self) -> Path:
        return self.data_dir / "content"


class ChainSettings(_Group):
    """Which chain, who signs, and the event indexer."""

    rpc_url: str | None = Field(default=None, description="JSON-RPC URL; unset means the embedded chain.")
    confirmations: int | None = Field(
        default=None, ge=0, description="Blocks a payment needs; default 1 on Sonic, 0 on dev chains."
    )
    deployment_file: Path | None = Field(
        default=None, description="Contract addresses written by `sf-mcp deploy` (default: deployment.json in the data dir)."
    )
    rpc_timeout_s: float = Field(default=10.0, gt=0, description="Timeout of one JSON-RPC request.")
    wallet: Address | None = Field(
        default=None, description="The stdio caller's wallet; tools return unsigned TxPlans for it."
    )
    agent_key: SecretStr | None = Field(
        default=None, description="A local agent's private key: its address is the wallet and the server signs."
    )
    operator_key: SecretStr | None = Field(
        default=None, description="The server's own key for operator actions (refunds, submitGeneration)."
    )
    operator_resend_after_s: float = Field(
        default=600.0, gt=0, description="Seconds an operator transaction (refund, contest submission) may stay "
        "pending before it is replaced with the same nonce and higher fees.",
    )
    dev_tools: bool = Field(
        default=False, description="Add dev_advance_time (embedded chain or a --dev anvil deployment only; refused elsewhere)."
    )
    indexer: bool = Field(default=True, description="Run the chain event indexer inside `serve`.")
    indexer_poll_s: float = Field(default=1.0, gt=0, description="Seconds between polls for new blocks.")
    indexer_batch_blocks: int = Field(default=2000, ge=1, le=100_000, description="Blocks per eth_getLogs request.")
    leader_lease_s: float = Field(
        default=10.0, gt=0, le=600,
        description="Replicas on PostgreSQL: another replica takes over the indexer within twice this after "
        "its leader dies.",
    )
    indexer_max_backoff_s: float = Field(
        default=60.0, gt=0, description="Longest wait between polls while they fail (doubling from the poll interval)."
    )
    x402_token_name: str = Field(
        default="USDC", min_length=1, description="EIP-712 name of the USDC token's domain (x402 authorizations).")
    x402_token_version: str = Field(
        default="2", min_length=1, description="EIP-712 version of the USDC token's domain (x402 authorizations).")
    x402_max_timeout_s: int = Field(
        default=300, ge=30, le=86_400, description="How long an x402 authorization may take to arrive (maxTimeoutSeconds).")

    @model_validator(mode="after")
    def _one_identity(self) -> ChainSettings:
        if self.wallet and self.agent_key:
            raise ValueError("set SF_WALLET or SF_AGENT_KEY, not both (the agent key's address is the wallet)")
        return self

    @property
    def embedded(self) -> bool:
        """True when no RPC URL is set and the in-process chain is used."""
        return self.rpc_url is None


class ProviderSettings(_Group):
    """The generation providers and their fallback chain."""

    # Defaults the Inference Providers docs show served (hub-docs, August 2026): FLUX.1 schnell
    # (nscale), FLUX.1 dev (fal-ai, replicate, wavespeed), SD3 medium (hf-inference); Wan 2.2
    # 5B (fal-ai, replicate) and 14B for video. `sf-mcp providers check` shows today's routes.
    image_models: list[str] = Field(
        default=[
            "black-forest-labs/FLUX.1-schnell",
            "black-forest-labs/FLUX.1-dev",
            "stabilityai/stable-diffusion-3-medium-diffusers",
        ],
        description="Hugging Face text-to-image models, tried in order.",
    )
    video_models: list[str] = Field(
        default=["Wan-AI/Wan2.2-TI2V-5B", "Wan-AI/Wan2.2-T2V-A14B"],
        description="Hugging Face text-to-video models, tried in order.",
    )
    hf_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SF_HF_TOKEN", "HF_TOKEN", "hf_token")
    )
    hf_provider: str = Field(default="auto", description="Inference provider; 'auto' lets the hub choose.")
    hf_base_url: str | None = Field(default=None, description="Dedicated endpoint or proxy in hf-inference format.")
    cloudflare_account_id: str | None = None
    cloudflare_api_token: SecretStr | None = None
    cloudflare_base_url: str = "https://api.cloudflare.com/client/v4"
    cloudflare_image_models: list[str] = [
        "@cf/black-forest-labs/flux-1-schnell",
        "@cf/stabilityai/stable-diffusion-xl-base-1.0",
    ]
    local_renderer: bool | None = Field(
        default=None, description="Offline renderer as last provider; default on for development chains only."
    )
    attempt_timeout_s: float = Field(default=60.0, gt=0)
    generation_deadline_s: float = Field(default=300.0, gt=0)
    video_attempt_timeout_s: float = Field(
        default=300.0, gt=0, description="Per-model timeout for video, which takes minutes, not seconds."
    )
    video_deadline_s: float = Field(default=900.0, gt=0, description="Overall deadline of one video generation.")
    breaker_failures: int = Field(default=3, ge=1, description="Failures in a row that open a provider's circuit.")
    breaker_cooldown_s: float = Field(default=60.0, gt=0)
    preview_max_px: int = Field(default=256, ge=32, le=1024, description="Longest side of the inline preview.")
    image_answer_within_s: float = Field(
        default=45.0, gt=0, le=300, description="generate_image answers within this long (most clients give up on "
        "a tool call after 60 s); a slower image keeps generating and get_generation returns it."
    )


class JobSettings(_Group):
    """The durable job runner."""

    workers: int = Field(default=4, ge=1, le=64, description="Concurrent generation jobs.")
    job_lease_s: float = Field(default=120.0, gt=0, description="A running job whose lease expires is resumed.")
    job_max_attempts: int = Field(default=3, ge=1, description="Runs of one job before it fails for good.")


class LimitSettings(_Group):
    """What one wallet may use: the free quota, the agent key's spending, HTTP rate limits."""

    free_daily_quota: int = Field(default=5, ge=0, description="Free generations per wallet per UTC day.")
    agent_max_s_per_tx: float = Field(default=10.0, ge=0, description="Most S the agent key may spend in one transaction.")
    agent_max_s_per_day: float = Field(default=30.0, ge=0, description="Most S the agent key may spend per UTC day.")
    agent_max_usdc_per_tx: float = Field(default=5.0, ge=0, description="Most USDC the agent key may spend per transaction.")
    agent_max_usdc_per_day: float = Field(default=20.0, ge=0, description="Most USDC the agent key may spend per UTC day.")
    rate_limit_window_s: float = Field(default=900.0, gt=0, description="Window of the rate limits below.")
    rate_limit_ip: int = Field(default=100, ge=1, description="Tool calls per IP address per window.")
    rate_limit_wallet: int = Field(default=100, ge=1, description="Tool calls per signed-in wallet per window.")
    rate_limit_auth_ip: int = Field(default=30, ge=1, description="/auth requests per IP address per window.")


class HttpSettings(_Group):
    """The streamable HTTP surface and its Sign-In with Ethereum."""

    host: str = Field(default="127.0.0.1", description="Bind address; loopback unless you mean to expose it.")
    port: int = Field(default=8000, ge=0, le=65535)
    public_url: str | None = Field(
        default=None, description="Base URL clients use (https://mcp.example.com); default http://host:port."
    )
    allowed_origins: list[str] = Field(
        default=[], description="Browser Origins allowed besides the public URL's and loopback ('https://app.example')."
    )
    allowed_hosts: list[str] = Field(
        default=[], description="Host headers allowed besides the public URL's and loopback (DNS-rebinding guard)."
    )
    max_request_body_bytes: int = Field(default=1_048_576, ge=1024, description="Larger HTTP bodies get 413.")
    jwt_secret: SecretStr | None = Field(
        default=None, description="HS256 key for bearer tokens; unset: generated once into the data dir."
    )
    request_state_keys: SecretStr | None = Field(
        default=None,
        description="Comma-separated secrets (32+ characters each) sealing the 2026-07-28 requestState: the first "
        "seals, every one opens (rotation). Replicas share them; unset: a key of this process only.",
    )
    token_ttl_s: int = Field(default=86_400, ge=60, description="Lifetime of a bearer token.")
    nonce_ttl_s: int = Field(default=300, ge=10, description="How long a sign-in nonce may be used.")
    siwe_domain: str | None = Field(default=None, description="Domain sign-in messages name; default the public URL's host[:port].")
    siwe_uri: str | None = Field(default=None, description="URI sign-in messages name; default the public URL.")
    siwe_chain_id: int | None = Field(
        default=None, gt=0, description="Chain ID sign-in messages name; default the connected chain's, else 146."
    )
    clock_skew_s: int = Field(default=60, ge=0, le=600, description="Tolerated clock difference for sign-in times.")
    oauth_access_token_ttl_s: int = Field(default=3600, ge=60, description="Lifetime of an OAuth access token.")
    oauth_refresh_token_ttl_s: int = Field(
        default=30 * 86_400, ge=60, description="Lifetime of an OAuth refresh token (rotated on every use)."
    )
    oauth_allow_private_client_metadata: bool = Field(
        default=False,
        description="Fetch OAuth client metadata documents from private/loopback addresses and plain http (development).",
    )
    operator_wallets: list[Address] = Field(
        default=[], description="Wallets that may read review://queue over HTTP (JSON list); stdio is always the operator."
    )

    @model_validator(mode="after")
    def _request_state_keys_are_long(self) -> HttpSettings:
        if any(len(key) < 32 for key in self.request_state_key_list):
            raise ValueError("SF_REQUEST_STATE_KEYS: every key must be at least 32 characters of secret randomness")
        return self

    @property
    def request_state_key_list(self) -> list[str]:
        """SF_REQUEST_STATE_KEYS split at commas: the first seals, all open."""
        raw = self.request_state_keys.get_secret_value() if self.request_state_keys else ""
        return [key.strip() for key in raw.split(",") if key.strip()]


class AlertSettings(_Group):
    """Operations: alerts on large payments."""

    alert_payment_s: Decimal | None = Field(
        default=None, ge=0, description="Alert on a payment of at least this many S (whole tokens); unset: no S alerts."
    )
    alert_payment_usdc: Decimal | None = Field(
        default=None, ge=0, description="Alert on a payment of at least this many USDC (whole tokens)."
    )
    alert_webhook_url: SecretStr | None = Field(
        default=None, description="Alerts are also POSTed here as JSON (Slack/Discord-style hook URLs hold a secret)."
    )
    alert_webhook_timeout_s: float = Field(default=5.0, gt=0, le=60, description="Timeout of one webhook POST.")


def _empty(group: type[_Group]) -> Any:
    return lambda: group.model_validate({})  # validation only: no second read of the environment


class Settings(BaseSettings):
    """Everything an operator can configure, by concern. Secrets are ``SecretStr`` and never printed."""

    model_config = SettingsConfigDict(extra="forbid", validate_default=True)

    storage: StorageSettings = Field(default_factory=_empty(StorageSettings))
    chain: ChainSettings = Field(default_factory=_empty(ChainSettings))
    providers: ProviderSettings = Field(default_factory=_empty(ProviderSettings))
    jobs: JobSettings = Field(default_factory=_empty(JobSettings))
    limits: LimitSettings = Field(default_factory=_empty(LimitSettings))
    http: HttpSettings = Field(default_factory=_empty(HttpSettings))
    alerts: AlertSettings = Field(default_factory=_empty(AlertSettings))

    GROUPS: ClassVar[dict[str, type[_Group]]] = {
        "storage": StorageSettings,
        "chain": ChainSettings,
        "providers": ProviderSettings,
        "jobs": JobSettings,
        "limits": LimitSettings,
        "http": HttpSettings,
        "alerts": AlertSettings,
    }

    @model_validator(mode="before")
    @classmethod
    def _nest_flat_names(cls, data: Any) -> Any:
        """Keyword arguments use the flat names (``Settings(rpc_url=...)``): file them under their group."""
        return _nest(data) if isinstance(data, dict) else data

    @property
    def deployment_path(self) -> Path:
        """Where ``sf-mcp deploy`` wrote (and ``serve`` reads) the contract addresses."""
        return self.chain.deployment_file or self.storage.data_dir / "deployment.json"

    def updated(self, **flat: Any) -> Settings:
        """A validated copy with some settings changed, by their flat names (``updated(rpc_url=...)``)."""
        data = {name: getattr(self, name).model_dump() for name in self.GROUPS}
        for name, group in _nest(flat).items():
            data[name] = {**data.get(name, {}), **group}
        return type(self).model_validate(data)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, _GroupedEnv(settings_cls)]
        toml_file = os.environ.get("SF_CONFIG_FILE")
        if toml_file:
            if not Path(toml_file).is_file():
                raise ConfigError(f"SF_CONFIG_FILE {toml_file!r} does not exist")
            sources.append(_NestedToml(settings_cls, toml_file))
        return tuple(sources)


def _group_of(name: str) -> str | None:
    for group, model in Settings.GROUPS.items():
        if name in model.model_fields:
            return group
    return None


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    """``{"rpc_url": x, "chain": {...}}`` -> ``{"chain": {..., "rpc_url": x}}``; flat names win."""
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        if key in Settings.GROUPS and isinstance(value, dict):
            nested[key] = {**value, **nested.get(key, {})}
            continue
        group = _group_of(key)
        if group is None:
            nested[key] = value  # refused by extra="forbid", naming it
        else:
            nested.setdefault(group, {})[key] = value
    return nested


class _GroupedEnv(PydanticBaseSettingsSource):
    """``SF_<FIELD>`` environment variables, read with each group's own types (lists as JSON)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover - unused
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return {name: EnvSettingsSource(group)() for name, group in Settings.GROUPS.items()}


class _NestedToml(TomlConfigSettingsSource):
    """The TOML file, written with the flat names, filed under the groups."""

    def __init__(self, settings_cls: type[BaseSettings], toml_file: str) -> None:
        super().__init__(settings_cls, toml_file=toml_file)

    def __call__(self) -> dict[str, Any]:
        return _nest(super().__call__())


def load_settings(**overrides: Any) -> Settings:
    """Build and validate the settings, turning validation errors into one readable ConfigError."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            names = [str(p) for p in err["loc"] if isinstance(p, str)]
            if names and names[0] in Settings.GROUPS:
                names = names[1:]
            env_name = f"SF_{names[0].upper()}" if names else "settings"
            problems.append(f"{env_name}: {err['msg']}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None
