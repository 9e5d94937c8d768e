"""tini-py: a small, exact init process for containers."""
__version__ = "0.1.0"
