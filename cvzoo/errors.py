"""The errors cvzoo raises for problems a user can fix.

The CLI turns each into one line on stderr and the exit code it carries: 1 for a
failure, 2 for a usage mistake. Anything else that escapes is a bug in cvzoo.
"""

from __future__ import annotations


class CvzooError(Exception):
    """A problem with the user's input or environment, worded for the user."""

    exit_code = 1


class UsageError(CvzooError):
    """The command line asks for something that cannot exist (exit 2)."""

    exit_code = 2


class UnknownModel(UsageError):
    """A model name that is not in the zoo."""

    def __init__(self, name: str, suggestions: list[str]):
        self.name = name
        self.suggestions = suggestions
        hint = f"; did you mean {_or_list(suggestions)}?" if suggestions else "; see 'cvzoo list'"
        super().__init__(f"unknown model '{name}'{hint}")


class UnknownWeights(UsageError):
    """A weight-set name that the model does not have."""

    def __init__(self, model: str, weights: str, known: list[str]):
        self.model = model
        self.weights = weights
        choices = ", ".join(known + ["DEFAULT", "none", "a checkpoint path"])
        super().__init__(f"model '{model}' has no weights '{weights}'; choose one of: {choices}")


class WeightsUnavailable(CvzooError):
    """Pretrained weights that cannot be found or loaded."""


class BuildError(CvzooError):
    """A model that could not be constructed or run."""


class UserCodeError(CvzooError):
    """An exception raised by the user's own model file, reported as file:line."""


class NoMatch(CvzooError):
    """Patterns that match no model: exit 1, like grep, with the nearest names."""

    def __init__(self, patterns: list[str], where: str, near: list[str]):
        self.patterns = patterns
        hint = f"; did you mean {', '.join(near)}?" if near else "; 'cvzoo list' shows them all"
        super().__init__(f"no model matches {' '.join(repr(p) for p in patterns)}{where}{hint}")


class BadImage(CvzooError):
    """An input that is not a readable image; the message says why.

    Raised per image and caught by ``infer``, which reports it beside the other images' results.
    """


def _or_list(items: list[str]) -> str:
    quoted = [f"'{i}'" for i in items]
    if len(quoted) <= 1:
        return "".join(quoted)
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message, or its type's name when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0][:limit] if text else type(exc).__name__
