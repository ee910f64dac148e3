"""Domain exceptions whose messages a marketer can act on.

Every message is one plain sentence (or two) naming the file, column, row or value
involved and saying what to do. The dashboard shows it with ``st.error``; the command
line prints it and exits with status 2. Anything that is not a ``NeuromktError`` is a
bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = ["DataError", "ModelError", "NeuromktError", "ProjectError"]


class NeuromktError(Exception):
    """Base class for errors caused by the user's input rather than by a bug.

    The message is a plain sentence a marketer can act on, for example
    "Column 'converted' has only one value (0); the target needs at least two classes."

    Example:
        >>> import neuromkt as nm
        >>> try:
        ...     nm.load_bundle(b"not a model")
        ... except nm.NeuromktError as error:  # every error caused by the input, not by a bug
        ...     print(type(error).__name__)
        ModelError
    """


class DataError(NeuromktError):
    """The data cannot be read, or cannot be used for what was asked of it.

    Example:
        >>> import neuromkt as nm
        >>> nm.infer_schema(nm.load_sample("ecommerce"), target="bought")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        neuromkt.errors.DataError: There is no column 'bought' to predict; the columns are ...
    """


class ModelError(NeuromktError):
    """A model or model bundle cannot be built, trained, loaded or applied.

    Example:
        >>> import neuromkt as nm
        >>> nm.load_bundle(b"not a model")
        Traceback (most recent call last):
        neuromkt.errors.ModelError: The uploaded file is not a neuromkt model: expected a folder
        or a .zip holding bundle.json and weights.safetensors.
    """


class ProjectError(NeuromktError):
    """A project or workspace cannot be found, or does not belong to the workspace asking.

    The message never says whether a project exists elsewhere: to a workspace, another
    workspace's project and a made-up id look the same.
    """
