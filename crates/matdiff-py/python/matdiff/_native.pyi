"""Type stubs for matdiff._native, the compiled half of the matdiff package (pyo3).

The public API is matdiff's (``matdiff/__init__.py``); these functions return the reports the
result classes are built from.
"""

from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import numpy as np

def version() -> str: ...
def grad(expr: str, wrt: List[str], decl: str = "", latex: bool = False, check: bool = False) -> List[Dict[str, Any]]: ...
def derivative(expr: str, wrt: str, decl: str = "", latex: bool = False, check: bool = False) -> Dict[str, Any]: ...
def hessian(
    expr: str,
    wrt: str,
    decl: str = "",
    direction: Optional[str] = None,
    latex: bool = False,
    check: bool = False,
) -> Dict[str, Any]: ...
def steps(expr: str, wrt: List[str], decl: str = "", latex: bool = False) -> Dict[str, Any]: ...
def graph(expr: str, decl: str = "", wrt: Optional[List[str]] = None, latex: bool = False) -> Tuple[str, str]: ...
def check(expr: str, wrt: str, claim: str, decl: str = "", latex: bool = False) -> Tuple[Dict[str, Any], str]: ...
def audit(document: str, problem: str) -> Tuple[Dict[str, Any], str, bool]: ...
def emit(expr: str, wrt: List[str], decl: str = "", target: str = "numpy", latex: bool = False) -> str: ...
def compile(expr: str, wrt: List[str] = ..., decl: str = "", latex: bool = False) -> Function: ...
def evaluate(
    expr: str, decl: str = "", latex: bool = False, arrays: Optional[Mapping[str, Any]] = None
) -> Union[float, np.ndarray]: ...

class Function:
    """A compiled function: ``value, grads = f(**arrays)`` (see ``matdiff.compile``)."""

    def __call__(self, **arrays: Any) -> Tuple[Union[float, np.ndarray], Tuple[np.ndarray, ...]]: ...
    @property
    def inputs(self) -> List[str]:
        """The variables, each a required keyword argument."""
    @property
    def wrt(self) -> List[str]:
        """The variables of the gradients, in the order of ``grads``."""
    @property
    def expr(self) -> str:
        """The expression, as given."""
    @property
    def shapes(self) -> List[Tuple[str, List[str]]]:
        """Each input's shape as dimension names."""
    def plan(self) -> str:
        """The steps planned for the sizes of the last call, one per line."""
