"""The seed's import path of the checkpoint: `from utils.checkpoint_manager import ...` keeps
working. The code lives in the utils.checkpoint package."""

from utils.checkpoint import *  # noqa: F403
from utils.checkpoint import __all__ as __all__
