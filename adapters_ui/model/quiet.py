"""The one warning policy: which library warnings, log lines and progress bars are silenced, and where.

The app (a server's log) silences the warnings known to be harmless here, and only those: each
filter names one message and the module that raises it, so any other warning, from the same
libraries too, still shows. Without them, starting the app with the demo adapters prints PEFT
and transformers warnings that say nothing about the user's adapters:

    >>> quiet_known_warnings()   # once, before loading the base; calling it again is harmless

The command line is stricter (``quiet_libraries``): its stdout is the table or the JSON and its
stderr the progress line and at most one error line, so it also hides transformers' progress
bars and log lines below ERROR, and every warning raised inside peft, transformers or torch.
"""

from __future__ import annotations

import warnings

# (category, start of the message (a regex), module that raises it (a regex), why it is harmless)
KNOWN_HARMLESS = (
    (
        UserWarning,
        r"Could not find a config file in .* - will assume that the vocabulary was not modified",
        r"peft\.utils\.save_and_load",
        "The engine lists an adapter's tensor names with get_peft_model_state_dict, which looks the "
        "base's config up on the Hub to see if the vocabulary was resized; offline it cannot, and the "
        "answer only matters when saving resized embeddings, which attaching never does. Once per attach.",
    ),
    (
        FutureWarning,
        r"`is_gradient_checkpointing` is deprecated",
        r"transformers\.modeling_utils",
        "PEFT probes this deprecated transformers property when it wraps the base model; nothing here "
        "uses it. Once per mounted adapter family.",
    ),
    (
        UserWarning,
        r"Position ids are not supported for parameter efficient tuning\. Ignoring position ids",
        r"peft\.peft_model",
        "Prompt-learning adapters run one prompt at a time without padding (engine route 'single'), so "
        "the default positions PEFT falls back to are the right ones. Once per generate call.",
    ),
)


def quiet_known_warnings() -> None:
    """Add one targeted ignore filter per entry of KNOWN_HARMLESS (in front of the others)."""
    for category, message, module, _why in KNOWN_HARMLESS:
        warnings.filterwarnings("ignore", message=message, category=category, module=module + r"\Z")


def quiet_libraries() -> None:
    """The CLI's policy, for the commands that load a model: KNOWN_HARMLESS as in the app, and also no library
    chatter on stderr: transformers draws no progress bar and logs only errors, and warnings raised inside peft,
    transformers or torch are ignored (what this package checks in the user's input still ends as one error line).
    A Hub download keeps huggingface_hub's bar: a first run's long wait shows its progress."""
    from transformers.utils import logging as transformers_logging

    quiet_known_warnings()
    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    warnings.filterwarnings("ignore", module=r"(peft|transformers|torch)(\..*)?")


def quiet_progress_bars() -> None:
    """No progress bars in a server's log: transformers and huggingface_hub draw one per model load or download
    (through their own switches, turned off here for this process), which would sit between the log's lines."""
    from huggingface_hub.utils import disable_progress_bars
    from transformers.utils import logging as transformers_logging

    disable_progress_bars()
    transformers_logging.disable_progress_bar()
    _quiet_gguf_bar()


def _quiet_gguf_bar() -> None:
    """transformers' GGUF loader draws a plain tqdm bar per load (SmolLM2's 272 tensors), which its own switch
    above does not reach: its module's ``tqdm`` becomes one that is off."""
    from functools import partial

    from transformers import modeling_gguf_pytorch_utils as gguf_loading

    if not isinstance(gguf_loading.tqdm, partial):
        gguf_loading.tqdm = partial(gguf_loading.tqdm, disable=True)
