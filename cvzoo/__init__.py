"""cvzoo: look inside computer-vision models and try them."""

__version__ = "0.1.0"
