"""The error of an unusable bundle, and the progress callback of the parsers."""

from __future__ import annotations

from collections.abc import Callable

from diagnosis_operator.models.bundle import LoadProgress

ProgressCallback = Callable[[LoadProgress], None]


class BundleError(ValueError):
    """A bundle that cannot be used.  The message starts with ``file:line:`` when known."""

    def __init__(self, file: str, line: int | None, problem: str) -> None:
        self.file = file
        self.line = line
        self.problem = problem
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {problem}")

    def __reduce__(self) -> tuple[type[BundleError], tuple[str, int | None, str]]:
        # rebuilt from its parts when it comes back from a forked parser
        return (BundleError, (self.file, self.line, self.problem))
