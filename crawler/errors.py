"""The short exception hierarchy: each name says what went wrong, each message is one line."""


class WirewatchError(Exception):
    """Base class for errors shown to the user as one line."""


class ConfigError(WirewatchError):
    """The config file (or a watch / gazetteer file) is invalid. Exit code 2."""


class QuerySyntaxError(ConfigError):
    """A watch's boolean keyword query does not parse."""

    def __init__(self, message: str, query: str, position: int):
        super().__init__(f"{message} at position {position}: {query[:position]}>>>{query[position:]}")
        self.position = position


class StorageError(ConfigError):
    """The database named by `storage` cannot be opened (bad URL, server unreachable). Exit code 2."""


class SchemaOutOfDate(StorageError):
    """The database was made by an older release: `wirewatch db upgrade` first. Exit code 2."""


class SchemaTooNew(StorageError):
    """The database was made by a newer release: this one refuses to touch it. Exit code 2."""


class SourceError(WirewatchError):
    """A source could not be crawled (unreachable, refused, unusable document)."""


class DeliveryError(WirewatchError):
    """An alert channel could not deliver."""


class LockedError(WirewatchError):
    """Another daemon holds the database."""


class NotAnArticle(WirewatchError):
    """A downloaded page has no extractable article text; the message is the reason recorded."""
