"""adapters_ui: compare fine-tuned PEFT adapters of one causal LM, side by side.

The core (this package minus ``ui/``) never imports gradio.
"""

from .config import Settings
from .errors import AdaptersUIError
from .generation import GenerationSettings
from .session import Comparison, Session

__all__ = ["AdaptersUIError", "Comparison", "GenerationSettings", "Session", "Settings"]
