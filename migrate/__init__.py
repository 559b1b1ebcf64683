"""comment-migrate: move a site's comments out of Cactus Comments into another system."""

__version__ = "0.1.0"
