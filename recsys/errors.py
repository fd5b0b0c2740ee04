"""The project's own exception types: messages are written for the user, not for a debugger."""


class RecsysError(Exception):
    """Base class: any error the user can fix by changing input, config or command line."""


class DataError(RecsysError):
    """Input data is missing, malformed or inconsistent (names the file, column or row)."""


class ConfigError(RecsysError):
    """A configuration value is unknown, of the wrong type, or out of range."""


class ArtifactError(RecsysError):
    """A saved artifact (model bundle, vocabulary, encoder) is missing or unreadable."""
