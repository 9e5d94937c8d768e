"""tini-py: a small, exact init process for containers."""
__version__ = "0.1.0"
# `python -X tini_py_reexec=MASK,FD`: set when tini-py executed itself
# again isolated (see tini_py/isolation.py).
REEXEC_XOPTION = "tini_py_reexec"
