"""The git connector: commits and tags of a local repository, read incrementally with pygit2,
and (optionally) deployments from tags matching a pattern."""

from shipwise.connectors.git.connector import (
    COMMIT_SCHEMA,
    TAG_SCHEMA,
    GitBatch,
    GitConnector,
    default_repo_name,
    open_repository,
    read_repository,
    read_tag_deployments,
)
from shipwise.connectors.git.tags import DEPLOYMENT_SCHEMA, deployment_id

__all__ = [
    "COMMIT_SCHEMA",
    "DEPLOYMENT_SCHEMA",
    "TAG_SCHEMA",
    "GitBatch",
    "GitConnector",
    "default_repo_name",
    "deployment_id",
    "open_repository",
    "read_repository",
    "read_tag_deployments",
]
