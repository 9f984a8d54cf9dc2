"""matdiff's exceptions: one class per kind of error.

Every error matdiff raises is a :class:`MatdiffError`. Its ``str()`` is the message as the
``matdiff`` command line prints it: the offending line of the input with the span underlined,
and notes on how to fix it. The parts are also attributes: ``kind``, ``message``, ``span``
(``(start, end)`` character offsets into the input named by ``input``, or ``None``), ``label``
and ``notes``.
"""

from typing import List, Optional, Tuple

__all__ = [
    "MatdiffError",
    "ParseError",
    "UnknownNameError",
    "ShapeError",
    "DomainError",
    "LimitError",
    "InputError",
    "UnsupportedError",
    "InternalError",
]


class MatdiffError(ValueError):
    """An error in what matdiff was given (or, for :class:`InternalError`, a bug in matdiff).

    Attributes:
        kind: the kind of error as a stable lowercase name (``"syntax"``, ``"unknown_name"``,
            ``"shape"``, ``"domain"``, ``"limit"``, ``"input"``, ``"unsupported"``,
            ``"internal"``); the subclass says the same.
        message: the one-line message, without the rendering.
        span: ``(start, end)`` character offsets of the offending part of the input, so that
            ``text[start:end]`` is what the message points at; ``None`` when the error is not
            about one place.
        input: which argument the span points into: ``"expr"``, ``"decl"``, ``"claim"``,
            ``"values"`` or ``None``.
        label: what the rendering prints under the underlined span.
        notes: extra lines: hints, the shapes involved, how to fix it.
    """

    kind: str
    message: str
    span: Optional[Tuple[int, int]]
    input: Optional[str]
    label: str
    notes: List[str]

    def __init__(
        self,
        rendered: str,
        *,
        kind: str = "input",
        message: Optional[str] = None,
        span: Optional[Tuple[int, int]] = None,
        input: Optional[str] = None,
        label: str = "",
        notes: Optional[List[str]] = None,
    ) -> None:
        super().__init__(rendered)
        self.kind = kind
        self.message = rendered if message is None else message
        self.span = None if span is None else (int(span[0]), int(span[1]))
        self.input = input
        self.label = label
        self.notes = list(notes or [])

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else self.message


class ParseError(MatdiffError):
    """The text does not read as an expression, declaration, claim or problem file."""


class UnknownNameError(MatdiffError):
    """A name that is neither declared, defined nor a known function (or a ``wrt`` variable
    that does not occur in the expression)."""


class ShapeError(MatdiffError):
    """Shapes that do not fit: ``A*B`` with mismatched inner dimensions, ``tr`` of a vector,
    an input array of the wrong shape, two inputs that disagree on a dimension."""


class DomainError(MatdiffError):
    """A mathematically undefined value: the log of a negative entry, a singular inverse."""


class LimitError(MatdiffError):
    """A bound on input size, nesting, dimension or work was exceeded."""


class InputError(MatdiffError):
    """Bad numeric inputs or arguments: a missing or unexpected array, a non-numeric dtype, an
    unknown option value."""


class UnsupportedError(MatdiffError):
    """Valid input that matdiff cannot handle (yet)."""


class InternalError(MatdiffError):
    """A bug in matdiff: an invariant that should hold did not. Please report it."""
