"""Settings: one frozen dataclass, read from environment variables and CLI flags.

Every default lives here and is documented here; nothing else reads ``os.environ``
for settings. Flags override environment variables, which override defaults.

    >>> Settings.from_env({"ADAPTERS_UI_MAX_NEW_TOKENS": "32"}).max_new_tokens
    32
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from adapters_ui.errors import ConfigError

DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = ("auto", "float32", "float16", "bfloat16")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
INT_SETTINGS = ("max_new_tokens", "max_new_tokens_cap", "max_adapters", "max_adapter_bytes", "max_upload_bytes",
                "max_prompts", "max_outputs", "max_runs", "max_queue", "gpu_duration_s")


def _default_cache_dir() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg) / "adapters_ui" if xdg else Path.home() / ".cache" / "adapters_ui"


@dataclass(frozen=True)
class Settings:
    # Hub id, local transformers folder, or .gguf file; None = embedded SmolLM2-135M-Instruct.
    # env: ADAPTERS_UI_BASE_MODEL
    base_model: str | None = None
    # "auto" picks CUDA, then MPS, then CPU. env: ADAPTERS_UI_DEVICE
    device: str = "auto"
    # "auto" = bf16 on CUDA (fp16 where bf16 is unsupported), fp16 on MPS, fp32 on CPU.
    # env: ADAPTERS_UI_DTYPE
    dtype: str = "auto"
    # Where dequantized GGUF weights and tokenizers are cached. env: ADAPTERS_UI_CACHE_DIR
    cache_dir: Path = field(default_factory=_default_cache_dir)
    # Folders whose sub-folders are offered as adapters. env: ADAPTERS_UI_ADAPTER_DIR
    # (several separated by os.pathsep).
    adapter_dirs: tuple[Path, ...] = ()
    # Tokens generated per output unless a request says otherwise. env: ADAPTERS_UI_MAX_NEW_TOKENS
    max_new_tokens: int = 64
    # Largest max_new_tokens any request may ask for (keeps a shared Space responsive).
    # env: ADAPTERS_UI_MAX_NEW_TOKENS_CAP
    max_new_tokens_cap: int = 512
    # Most adapters attached at once. env: ADAPTERS_UI_MAX_ADAPTERS
    max_adapters: int = 16
    # Largest adapter weights file accepted, in bytes. env: ADAPTERS_UI_MAX_ADAPTER_BYTES
    max_adapter_bytes: int = 2 * 1024**3
    # Largest file a page may upload (an adapter or bundle .zip, a prompt file): gradio refuses a bigger one
    # before it reaches the disk. env: ADAPTERS_UI_MAX_UPLOAD_BYTES
    max_upload_bytes: int = 4 * 1024**3
    # Most prompts in one comparison (a shared Space must not be held for hours).
    # env: ADAPTERS_UI_MAX_PROMPTS
    max_prompts: int = 64
    # Most outputs (prompts x variants) in one comparison. env: ADAPTERS_UI_MAX_OUTPUTS
    max_outputs: int = 256
    # Most model requests (comparisons, chat replies, API calls) admitted at once; more wait
    # in gradio's queue. They take the model in turns, one batch each. env: ADAPTERS_UI_MAX_RUNS
    max_runs: int = 16
    # Most requests waiting in the dashboard's gradio queue; one more is refused at once ("the queue
    # is full") instead of waiting behind hours of work. env: ADAPTERS_UI_MAX_QUEUE
    max_queue: int = 64
    # On a ZeroGPU Space, the seconds of GPU each model request books (spaces.GPU(duration=...));
    # a shorter booking gets a GPU sooner. Ignored elsewhere. env: ADAPTERS_UI_GPU_DURATION_S
    gpu_duration_s: int = 120
    # Where saved comparisons and reviews live: a SQLAlchemy URL, e.g.
    # postgresql+psycopg://user:password@host:5432/adapters_ui for replicas sharing one store.
    # None = SQLite file adapters_ui.db in cache_dir. env: ADAPTERS_UI_DATABASE_URL
    database_url: str | None = None
    # The address people reach this app at, for links printed by the CLI (the web UI uses the
    # address the visitor came in by). env: ADAPTERS_UI_PUBLIC_URL
    public_url: str = "http://127.0.0.1:7860"
    # Public mode (a shared Space): pickled .bin adapters are refused outright, only listed folders
    # attach, an unexpected error shows one line (the traceback goes to the log), and at the
    # max_adapters cap the least recently used visitor upload is detached to make room.
    # env: ADAPTERS_UI_PUBLIC (1/true/yes)
    public: bool = False
    # With the embedded default base, attach the demo adapters from assets/adapters and load
    # the demo prompts at start. env: ADAPTERS_UI_DEMO (0/false/no turns it off)
    demo: bool = True
    # Let the page (and the Session) merge an adapter into a copy of the base for download: a second copy of the
    # base in memory and a whole model on disk per merge. The CLI's merge is not affected.
    # env: ADAPTERS_UI_MERGES (0/false/no turns it off)
    merges: bool = True
    # A serving engine to drive instead of loading the model here: the address of an
    # OpenAI-compatible server (vLLM, Ray Serve LLM, KServe), e.g. http://127.0.0.1:8000.
    # None = transformers + PEFT in this process. env: ADAPTERS_UI_BACKEND_URL, flag --backend-url
    backend_url: str | None = None
    # Bearer token for that server (vLLM's --api-key). env: ADAPTERS_UI_BACKEND_API_KEY
    backend_api_key: str | None = field(default=None, repr=False)
    # The server's name for an adapter: "{adapter}" (vLLM) or "{base}:{adapter}" (Ray Serve LLM).
    # env: ADAPTERS_UI_BACKEND_ADAPTER_NAME
    backend_adapter_name: str = "{adapter}"
    # Which served base model to use when the server serves several. env: ADAPTERS_UI_BACKEND_MODEL
    backend_model: str | None = None
    # Seconds to wait for the server to connect or to send the next piece of an answer.
    # env: ADAPTERS_UI_BACKEND_TIMEOUT_S
    backend_timeout_s: float = 120.0
    # How much this project logs (to stderr): DEBUG, INFO, WARNING, ERROR or CRITICAL; libraries log
    # from WARNING up whatever it says. None = INFO for the app (its address, a line per run) and
    # WARNING for the other commands (their output is the table). env: ADAPTERS_UI_LOG_LEVEL
    log_level: str | None = None

    def __post_init__(self) -> None:
        # Accept plain strings from callers; store paths (frozen, hence object.__setattr__).
        object.__setattr__(self, "cache_dir", Path(self.cache_dir).expanduser())
        object.__setattr__(self, "adapter_dirs", tuple(Path(p).expanduser() for p in self.adapter_dirs))
        if self.device not in DEVICES:
            raise ConfigError(f"Unknown device {self.device!r}: use one of {', '.join(DEVICES)}.")
        if self.dtype not in DTYPES:
            raise ConfigError(f"Unknown dtype {self.dtype!r}: use one of {', '.join(DTYPES)}.")
        if "{adapter}" not in self.backend_adapter_name:
            raise ConfigError(f"ADAPTERS_UI_BACKEND_ADAPTER_NAME must contain {{adapter}}, got {self.backend_adapter_name!r}: "
                              "use {adapter} (vLLM) or {base}:{adapter} (Ray Serve LLM).")
        try:
            self.backend_adapter_name.format(base="b", adapter="a")
        except (KeyError, IndexError, ValueError):
            raise ConfigError(f"ADAPTERS_UI_BACKEND_ADAPTER_NAME may name only {{base}} and {{adapter}}, "
                              f"got {self.backend_adapter_name!r}.") from None
        if self.log_level is not None:
            if self.log_level.strip().upper() not in LOG_LEVELS:
                raise ConfigError(f"Unknown log level {self.log_level!r} (ADAPTERS_UI_LOG_LEVEL): use one of {', '.join(LOG_LEVELS)}.")
            object.__setattr__(self, "log_level", self.log_level.strip().upper())
        if not self.backend_timeout_s > 0:
            raise ConfigError(f"backend_timeout_s must be above 0, got {self.backend_timeout_s}.")
        for name in INT_SETTINGS:
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}.")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> "Settings":
        """Settings from ``ADAPTERS_UI_*`` variables; keyword overrides (flags) win when not None."""
        env = os.environ if environ is None else environ
        values: dict = {}
        if env.get("ADAPTERS_UI_BASE_MODEL"):
            values["base_model"] = env["ADAPTERS_UI_BASE_MODEL"]
        for key in ("device", "dtype"):
            if env.get(f"ADAPTERS_UI_{key.upper()}"):
                values[key] = env[f"ADAPTERS_UI_{key.upper()}"].lower()
        if env.get("ADAPTERS_UI_CACHE_DIR"):
            values["cache_dir"] = Path(env["ADAPTERS_UI_CACHE_DIR"]).expanduser()
        if env.get("ADAPTERS_UI_DATABASE_URL"):
            values["database_url"] = env["ADAPTERS_UI_DATABASE_URL"].strip()
        if env.get("ADAPTERS_UI_PUBLIC_URL"):
            values["public_url"] = env["ADAPTERS_UI_PUBLIC_URL"].strip()
        for key in ("backend_url", "backend_api_key", "backend_adapter_name", "backend_model", "log_level"):
            if env.get(f"ADAPTERS_UI_{key.upper()}", "").strip():
                values[key] = env[f"ADAPTERS_UI_{key.upper()}"].strip()
        if env.get("ADAPTERS_UI_BACKEND_TIMEOUT_S"):
            raw = env["ADAPTERS_UI_BACKEND_TIMEOUT_S"]
            try:
                values["backend_timeout_s"] = float(raw)
            except ValueError:
                raise ConfigError(f"ADAPTERS_UI_BACKEND_TIMEOUT_S must be a number of seconds, got {raw!r}.") from None
        if env.get("ADAPTERS_UI_ADAPTER_DIR"):
            values["adapter_dirs"] = tuple(
                Path(p).expanduser() for p in env["ADAPTERS_UI_ADAPTER_DIR"].split(os.pathsep) if p
            )
        for key in INT_SETTINGS:
            raw = env.get(f"ADAPTERS_UI_{key.upper()}")
            if raw:
                try:
                    values[key] = int(raw)
                except ValueError:
                    raise ConfigError(f"ADAPTERS_UI_{key.upper()} must be a whole number, got {raw!r}.") from None
        if env.get("ADAPTERS_UI_PUBLIC"):
            values["public"] = env["ADAPTERS_UI_PUBLIC"].strip().lower() in ("1", "true", "yes", "on")
        for key in ("demo", "merges"):
            if env.get(f"ADAPTERS_UI_{key.upper()}"):
                values[key] = env[f"ADAPTERS_UI_{key.upper()}"].strip().lower() not in ("0", "false", "no", "off")
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def database(self) -> str:
        """The database URL in use: ``database_url``, else the SQLite file under ``cache_dir``."""
        return self.database_url or f"sqlite:///{self.cache_dir / 'adapters_ui.db'}"

    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **changes)
