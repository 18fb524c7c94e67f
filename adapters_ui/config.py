"""Settings: one frozen dataclass, read from environment variables and CLI flags.

Every default lives here and is documented here; nothing else reads ``os.environ``
for settings. Each field is one row of the table: its environment variable, type (the
annotation), default and help, declared once with ``setting(...)``; ``from_env`` reads
them all the same way. Flags override environment variables, which override defaults.

    >>> Settings.from_env({"ADAPTERS_UI_MAX_NEW_TOKENS": "32"}).max_new_tokens
    32
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import MISSING, dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from adapters_ui.errors import ConfigError

DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = ("auto", "float32", "float16", "bfloat16")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
YES = ("1", "true", "yes", "on")
NO = ("0", "false", "no", "off")


def setting(env: str, default: Any = MISSING, *, help: str, factory: Callable[[], Any] | None = None,
            choices: tuple[str, ...] = (), number: str = "", repr: bool = True) -> Any:
    """A Settings field that names its environment variable and says what it is for.

    ``choices``: the values allowed (matched ignoring case and spaces); ``number``: how a bad number is named
    in the error ("a whole number" for an int unless given)."""
    metadata = {"env": env, "help": help, "choices": choices, "number": number}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata, repr=repr)
    return dataclasses.field(default=default, metadata=metadata, repr=repr)


def _default_cache_dir() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg) / "adapters_ui" if xdg else Path.home() / ".cache" / "adapters_ui"


@dataclass(frozen=True)
class Settings:
    base_model: str | None = setting(
        "ADAPTERS_UI_BASE_MODEL", None,
        help="Hub id, local transformers folder, or .gguf file; None = embedded SmolLM2-135M-Instruct.")
    device: str = setting(
        "ADAPTERS_UI_DEVICE", "auto", choices=DEVICES,
        help='"auto" picks CUDA, then MPS, then CPU.')
    dtype: str = setting(
        "ADAPTERS_UI_DTYPE", "auto", choices=DTYPES,
        help='"auto" = bf16 on CUDA (fp16 where bf16 is unsupported), fp16 on MPS, fp32 on CPU.')
    cache_dir: Path = setting(
        "ADAPTERS_UI_CACHE_DIR", factory=_default_cache_dir,
        help="Where dequantized GGUF weights and tokenizers are cached (and the SQLite store, uploads).")
    adapter_dirs: tuple[Path, ...] = setting(
        "ADAPTERS_UI_ADAPTER_DIR", (),
        help="Folders whose sub-folders are offered as adapters (several separated by os.pathsep).")
    max_new_tokens: int = setting(
        "ADAPTERS_UI_MAX_NEW_TOKENS", 64,
        help="Tokens generated per output unless a request says otherwise.")
    max_new_tokens_cap: int = setting(
        "ADAPTERS_UI_MAX_NEW_TOKENS_CAP", 512,
        help="Largest max_new_tokens any request may ask for (keeps a shared Space responsive).")
    max_adapters: int = setting(
        "ADAPTERS_UI_MAX_ADAPTERS", 16,
        help="Most adapters attached at once.")
    max_adapter_bytes: int = setting(
        "ADAPTERS_UI_MAX_ADAPTER_BYTES", 2 * 1024**3,
        help="Largest adapter weights file accepted, in bytes.")
    max_upload_bytes: int = setting(
        "ADAPTERS_UI_MAX_UPLOAD_BYTES", 4 * 1024**3,
        help="Largest file a page may upload (an adapter or bundle .zip, a prompt file): gradio refuses a bigger "
             "one before it reaches the disk.")
    max_prompts: int = setting(
        "ADAPTERS_UI_MAX_PROMPTS", 64,
        help="Most prompts in one comparison (a shared Space must not be held for hours).")
    max_outputs: int = setting(
        "ADAPTERS_UI_MAX_OUTPUTS", 256,
        help="Most outputs (prompts x variants) in one comparison.")
    max_runs: int = setting(
        "ADAPTERS_UI_MAX_RUNS", 16,
        help="Most model requests (comparisons, chat replies, API calls) admitted at once; more wait in gradio's "
             "queue. They take the model in turns, one batch each.")
    max_queue: int = setting(
        "ADAPTERS_UI_MAX_QUEUE", 64,
        help='Most requests waiting in the dashboard\'s gradio queue; one more is refused at once ("the queue is '
             'full") instead of waiting behind hours of work.')
    gpu_duration_s: int = setting(
        "ADAPTERS_UI_GPU_DURATION_S", 120,
        help="On a ZeroGPU Space, the seconds of GPU each model request books (spaces.GPU(duration=...)); a shorter "
             "booking gets a GPU sooner. Ignored elsewhere.")
    database_url: str | None = setting(
        "ADAPTERS_UI_DATABASE_URL", None,
        help="Where saved comparisons and reviews live: a SQLAlchemy URL, e.g. "
             "postgresql+psycopg://user:password@host:5432/adapters_ui for replicas sharing one store. "
             "None = SQLite file adapters_ui.db in cache_dir.")
    public_url: str = setting(
        "ADAPTERS_UI_PUBLIC_URL", "http://127.0.0.1:7860",
        help="The address people reach this app at, for links printed by the CLI (the web UI uses the address the "
             "visitor came in by).")
    public: bool = setting(
        "ADAPTERS_UI_PUBLIC", False,
        help="Public mode (a shared Space; 1/true/yes/on): pickled .bin adapters are refused outright, only listed "
             "folders attach, an unexpected error shows one line (the traceback goes to the log), and at the "
             "max_adapters cap the least recently used visitor upload is detached to make room.")
    demo: bool = setting(
        "ADAPTERS_UI_DEMO", True,
        help="With the embedded default base, attach the demo adapters from assets/adapters and load the demo "
             "prompts at start (0/false/no/off turns it off).")
    merges: bool = setting(
        "ADAPTERS_UI_MERGES", True,
        help="Let the page (and the Session) merge an adapter into a copy of the base for download: a second copy "
             "of the base in memory and a whole model on disk per merge (0/false/no/off turns it off). The CLI's "
             "merge is not affected.")
    backend_url: str | None = setting(
        "ADAPTERS_UI_BACKEND_URL", None,
        help="A serving engine to drive instead of loading the model here: the address of an OpenAI-compatible "
             "server (vLLM, Ray Serve LLM, KServe), e.g. http://127.0.0.1:8000. None = transformers + PEFT in "
             "this process. Flag --backend-url.")
    backend_api_key: str | None = setting(
        "ADAPTERS_UI_BACKEND_API_KEY", None, repr=False,
        help="Bearer token for that server (vLLM's --api-key).")
    backend_adapter_name: str = setting(
        "ADAPTERS_UI_BACKEND_ADAPTER_NAME", "{adapter}",
        help='The server\'s name for an adapter: "{adapter}" (vLLM) or "{base}:{adapter}" (Ray Serve LLM).')
    backend_model: str | None = setting(
        "ADAPTERS_UI_BACKEND_MODEL", None,
        help="Which served base model to use when the server serves several.")
    backend_timeout_s: float = setting(
        "ADAPTERS_UI_BACKEND_TIMEOUT_S", 120.0, number="a number of seconds",
        help="Seconds to wait for the server to connect or to send the next piece of an answer.")
    judge_url: str | None = setting(
        "ADAPTERS_UI_JUDGE_URL", None,
        help="A judge model's OpenAI-compatible chat endpoint (vLLM serving Prometheus 2 or Qwen2.5-7B-Instruct, or "
             "a hosted provider), e.g. http://gpu-host:8001. None = no judge set. Flag --judge-url.")
    judge_model: str | None = setting(
        "ADAPTERS_UI_JUDGE_MODEL", None,
        help="Which model of the judge server judges; None = the one it serves. Flag --judge-model.")
    judge_local: str | None = setting(
        "ADAPTERS_UI_JUDGE_LOCAL", None,
        help="A judge model loaded in this process beside the base, used when no judge URL is set: a model folder, a "
             ".gguf file, or 'embedded' (the embedded SmolLM2: weak, for trying the path). Loaded on first use. "
             "Flag --judge-local.")
    judge_api_key_env: str = setting(
        "ADAPTERS_UI_JUDGE_API_KEY_ENV", "ADAPTERS_UI_JUDGE_API_KEY",
        help="The name of the environment variable holding the judge server's API key (the key itself is read "
             "from it, never stored). Flag --judge-api-key-env.")
    log_level: str | None = setting(
        "ADAPTERS_UI_LOG_LEVEL", None, choices=LOG_LEVELS,
        help="How much this project logs (to stderr): DEBUG, INFO, WARNING, ERROR or CRITICAL; libraries log from "
             "WARNING up whatever it says. None = INFO for the app (its address, a line per run) and WARNING for "
             "the other commands (their output is the table).")

    def __post_init__(self) -> None:
        # Accept plain strings from callers; store paths (frozen, hence object.__setattr__).
        object.__setattr__(self, "cache_dir", Path(self.cache_dir).expanduser())
        object.__setattr__(self, "adapter_dirs", tuple(Path(p).expanduser() for p in self.adapter_dirs))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.metadata["choices"] and value is not None:
                object.__setattr__(self, f.name, _choice(f, value))
            elif f.type == "int" and value < 1:
                raise ConfigError(f"{f.name} must be at least 1, got {value}.")
            elif f.type == "float" and not value > 0:
                raise ConfigError(f"{f.name} must be above 0, got {value}.")
        name, env = self.backend_adapter_name, self.env_of("backend_adapter_name")
        if "{adapter}" not in name:
            raise ConfigError(f"{env} must contain {{adapter}}, got {name!r}: use {{adapter}} (vLLM) or {{base}}:{{adapter}} "
                              "(Ray Serve LLM).")
        try:
            name.format(base="b", adapter="a")
        except (KeyError, IndexError, ValueError):
            raise ConfigError(f"{env} may name only {{base}} and {{adapter}}, got {name!r}.") from None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> "Settings":
        """Settings from ``ADAPTERS_UI_*`` variables (a blank one counts as unset); keyword overrides (flags) win
        when not None."""
        env = os.environ if environ is None else environ
        values: dict = {}
        for f in dataclasses.fields(cls):
            raw = env.get(f.metadata["env"], "")
            if raw.strip():
                values[f.name] = _parse(f, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @classmethod
    def env_of(cls, name: str) -> str:
        """The environment variable of the setting ``name``, e.g. ``ADAPTERS_UI_MAX_NEW_TOKENS``."""
        return _FIELDS[name].metadata["env"]

    @property
    def database(self) -> str:
        """The database URL in use: ``database_url``, else the SQLite file under ``cache_dir``."""
        return self.database_url or f"sqlite:///{self.cache_dir / 'adapters_ui.db'}"

    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **changes)


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def _choice(f: dataclasses.Field, value: str) -> str:
    """``value`` as spelled in the field's choices ("CPU" -> "cpu", " debug " -> "DEBUG"), or a one-line error."""
    choices = f.metadata["choices"]
    for choice in choices:
        if value.strip().lower() == choice.lower():
            return choice
    raise ConfigError(f"Unknown {f.name.replace('_', ' ')} {value!r} ({f.metadata['env']}): use one of {', '.join(choices)}.")


def _parse(f: dataclasses.Field, raw: str) -> Any:
    """One environment variable's text as the field's type (its annotation); a bad number is a one-line error."""
    env = f.metadata["env"]
    if f.type in ("int", "float"):
        try:
            return int(raw) if f.type == "int" else float(raw)
        except ValueError:
            raise ConfigError(f"{env} must be {f.metadata['number'] or 'a whole number'}, got {raw!r}.") from None
    if f.type == "bool":  # a word that is neither yes nor no keeps the default
        word = raw.strip().lower()
        return True if word in YES else False if word in NO else f.default
    if f.type == "Path":
        return Path(raw).expanduser()
    if f.type == "tuple[Path, ...]":  # several, separated by os.pathsep
        return tuple(Path(p).expanduser() for p in raw.split(os.pathsep) if p)
    if f.type in ("str", "str | None"):
        return raw.strip()
    raise TypeError(f"Settings.{f.name}: no parser for {f.type!r}.")
