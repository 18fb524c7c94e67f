"""The project's exception types.

Every error a user can cause is an ``AdaptersUIError`` whose message is one line:
what is wrong, then what to do. The UI turns it into ``gr.Error``; the CLI prints
it and exits non-zero. Anything else escaping is a bug.
"""


def first_line(exc: BaseException) -> str:
    """The first line of a library's exception message, to quote inside our one-line errors."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


class AdaptersUIError(Exception):
    """Base class: a one-line, user-facing message."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))  # always one line


class ConfigError(AdaptersUIError):
    """A setting (flag or environment variable) has a bad value."""


class BaseModelError(AdaptersUIError):
    """The base model could not be found or loaded."""


class PromptError(AdaptersUIError):
    """A prompt file or prompt list is unusable."""


class AdapterError(AdaptersUIError):
    """Base class for everything that stops an adapter from being attached."""


class AdapterNotFoundError(AdapterError):
    """The adapter folder does not exist or is not a folder."""


class AdapterConfigError(AdapterError):
    """adapter_config.json is missing, not JSON, or not a valid PEFT config."""


class UnknownPeftTypeError(AdapterConfigError):
    """peft_type names no adapter method this PEFT version knows."""


class AdapterWeightsError(AdapterError):
    """The weights file is missing, unreadable, or not plain tensors."""


class UnsafeWeightsError(AdapterWeightsError):
    """A .bin pickle would run code when loaded; it is refused."""


class ArchitectureMismatchError(AdapterError):
    """The adapter targets modules the base model does not have."""


class ShapeMismatchError(AdapterError):
    """The adapter's tensors do not fit the base model's layer sizes."""


class AdapterNameError(AdapterError):
    """The adapter name is reserved, taken, or not usable as a name."""


class AdapterSourceError(AdapterError):
    """An uploaded zip or a Hub repo did not yield exactly one adapter folder."""


class MergeError(AdapterError):
    """A merged export cannot be made: a type PEFT cannot merge, another base, a taken output folder, no room."""


class BundleError(AdapterError):
    """A bundle's manifest or files are unusable, or it does not fit this session (base, names, caps)."""


class UnknownVariantError(AdaptersUIError):
    """A comparison asked for a variant that is not attached."""


class BackendError(AdaptersUIError):
    """The serving engine (a remote OpenAI-compatible server) is down, timed out, or refused a request."""


class StoreError(AdaptersUIError):
    """The database is unreachable, or a saved comparison id is unknown or malformed."""


class ReviewError(AdaptersUIError):
    """A review link, vote or review setting is unusable, or the caller may not do this."""


class EvalSetError(AdaptersUIError):
    """An evaluation set file is unusable: its format, or one row's field (named with its line or row)."""


class StatisticsError(AdaptersUIError):
    """Paired statistics cannot be computed from these values: unequal lengths, an unknown metric, a bad value."""


class CheckError(AdaptersUIError):
    """A check of an evaluation set is unusable: an unknown type, a value of the wrong shape, a bad pattern or schema."""


class EvaluationError(AdaptersUIError):
    """An evaluation document cannot be shown this way: an unknown item, slice, metric or filter."""


class JudgeError(AdaptersUIError):
    """The judge model is not set, not reachable, serves several models and none was picked, or refused a request."""


class BenchmarkError(AdaptersUIError):
    """A benchmark cannot run: an unknown task, a variant this route cannot read, or a backend without the route."""


class BenchDependencyError(BenchmarkError):
    """lm-evaluation-harness (the optional ``bench`` extra) is not installed."""
