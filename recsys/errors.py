"""The project's own exception types, one per kind of mistake a user can make and fix.

Messages are written for the user, not for a debugger: one line that names the file, row,
column, setting or id at fault and says what was expected. The command line prints them without
a traceback (exit 1; exit 2 for a usage error).
"""


class RecsysError(Exception):
    """Base class: any error the user can fix by changing input, config or command line."""


class DataError(RecsysError):
    """Input data is missing, malformed or inconsistent (names the file, column, row or id)."""


class ConfigError(RecsysError):
    """A setting is unknown, of the wrong type, or out of range (names the setting and value)."""


class ArtifactError(RecsysError):
    """A saved artifact (model bundle, vocabulary, encoder) is missing or unreadable."""


class UsageError(RecsysError):
    """The command line asks for something that does not exist (an unknown action or option)."""
