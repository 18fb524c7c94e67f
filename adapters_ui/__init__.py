"""adapters_ui: compare fine-tuned PEFT adapters of one causal LM, side by side.

The core (this package minus ``ui/``) never imports gradio.
"""

__version__ = "0.1.0"

from .config import Settings
from .errors import AdaptersUIError
from .generation import GenerationSettings
from .runs import CompareRun, Comparison
from .session import Session

__all__ = ["__version__", "AdaptersUIError", "CompareRun", "Comparison", "GenerationSettings", "Session", "Settings"]
