"""The git connector: commits and tags of a local repository, read incrementally with pygit2."""

from shipwise.connectors.git.connector import (
    COMMIT_SCHEMA,
    TAG_SCHEMA,
    GitBatch,
    GitConnector,
    default_repo_name,
    open_repository,
    read_repository,
)

__all__ = [
    "COMMIT_SCHEMA",
    "TAG_SCHEMA",
    "GitBatch",
    "GitConnector",
    "default_repo_name",
    "open_repository",
    "read_repository",
]
