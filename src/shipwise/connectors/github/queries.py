"""The GraphQL queries the GitHub connector sends (GitHub's public schema, v4).

Kept in one place so the fake GitHub of the tests executes exactly these texts against its
subset of GitHub's schema (``tests/fakes/github_schema.graphql``): a query that would fail on
GitHub fails there too.
"""

from __future__ import annotations

#: The fields of a commit every query reads (a pull request's commits without ``parents``: asking
#: for them there makes GitHub charge about one point per pull request).
_COMMIT_FIELDS = "oid authoredDate committedDate additions deletions changedFilesIfAvailable " \
    "author { email user { login } }"

#: Pull requests (50 a page) with up to 100 commits and 100 reviews each, most recently updated
#: first: the connector stops paging at its ``updated_since`` watermark. The commits come
#: without their parents: a ``parents`` connection under each of 50 x 100 commits would make
#: GitHub charge about one point per pull request instead of one per page
#: (:func:`commit_parents_query` asks for the parents the history did not give, 100 a request).
PULL_REQUESTS = """
query PullRequests($owner: String!, $name: String!, $first: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    pullRequests(first: $first, after: $after, orderBy: {field: UPDATED_AT, direction: DESC}) {
      pageInfo { hasNextPage endCursor }
      nodes {
        id
        number
        url
        state
        createdAt
        updatedAt
        mergedAt
        closedAt
        additions
        deletions
        author { __typename login }
        labels(first: 20) { nodes { name } }
        mergeCommit { oid }
        commits(first: 100) {
          totalCount
          pageInfo { hasNextPage endCursor }
          nodes { commit { ...PullRequestCommitFields } }
        }
        reviews(first: 100) {
          pageInfo { hasNextPage endCursor }
          nodes { author { __typename login } state submittedAt }
        }
      }
    }
  }
}
fragment PullRequestCommitFields on Commit {
  """ + _COMMIT_FIELDS + """
}
"""

#: More commits of one pull request (one with more than 100).
PULL_REQUEST_COMMITS = """
query PullRequestCommits($id: ID!, $after: String) {
  node(id: $id) {
    ... on PullRequest {
      commits(first: 100, after: $after) {
        pageInfo { hasNextPage endCursor }
        nodes { commit { ...PullRequestCommitFields } }
      }
    }
  }
}
fragment PullRequestCommitFields on Commit {
  """ + _COMMIT_FIELDS + """
}
"""

#: More reviews of one pull request (one with more than 100).
PULL_REQUEST_REVIEWS = """
query PullRequestReviews($id: ID!, $after: String) {
  node(id: $id) {
    ... on PullRequest {
      reviews(first: 100, after: $after) {
        pageInfo { hasNextPage endCursor }
        nodes { author { __typename login } state submittedAt }
      }
    }
  }
}
"""

#: Commits reachable from the default branch, newest first, committed since ``$since``.
HISTORY = """
query History($owner: String!, $name: String!, $first: Int!, $after: String, $since: GitTimestamp) {
  repository(owner: $owner, name: $name) {
    defaultBranchRef {
      name
      target {
        ... on Commit {
          history(first: $first, after: $after, since: $since) {
            pageInfo { hasNextPage endCursor }
            nodes { ...CommitFields }
          }
        }
      }
    }
  }
}
fragment CommitFields on Commit {
  """ + _COMMIT_FIELDS + """
  parents(first: 10) { nodes { oid } }
}
"""

#: Deployments, newest first, with their statuses (oldest status first on GitHub).
DEPLOYMENTS = """
query Deployments($owner: String!, $name: String!, $first: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    deployments(first: $first, after: $after, orderBy: {field: CREATED_AT, direction: DESC}) {
      pageInfo { hasNextPage endCursor }
      nodes {
        id
        databaseId
        environment
        task
        createdAt
        updatedAt
        commitOid
        latestStatus { state createdAt }
        statuses(first: 100) { nodes { state createdAt } }
      }
    }
  }
}
"""

#: Tags with the commit (and date) they point to.
TAGS = """
query Tags($owner: String!, $name: String!, $first: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    refs(refPrefix: "refs/tags/", first: $first, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes {
        name
        target {
          __typename
          oid
          ... on Commit { committedDate }
          ... on Tag { tagger { date } target { oid ... on Commit { committedDate } } }
        }
      }
    }
  }
}
"""

#: What changed in one repository, cheaply: one aliased block of this per repository goes into a
#: single request (:func:`probe_query`).
PROBE_FIELDS = """
    nameWithOwner
    pushedAt
    defaultBranchRef { name target { oid } }
    pullRequests(first: 1, orderBy: {field: UPDATED_AT, direction: DESC}) {
      totalCount
      nodes { updatedAt }
    }
    deployments(last: 5) {
      totalCount
      nodes { databaseId updatedAt latestStatus { state createdAt } }
    }
    latestRelease { tagName updatedAt }
    refs(refPrefix: "refs/tags/", first: 1, direction: DESC) { totalCount }
"""


def probe_query(repos: list[tuple[str, str]]) -> str:
    """One query asking each of ``repos`` (owner, name) for the fields of :data:`PROBE_FIELDS`,
    aliased ``r0``, ``r1`` …, plus the rate limit it cost."""
    blocks = [
        f"  r{i}: repository(owner: {_quote(owner)}, name: {_quote(name)}) {{{PROBE_FIELDS}  }}"
        for i, (owner, name) in enumerate(repos)
    ]
    return "query Probe {\n" + "\n".join(blocks) + "\n  rateLimit { cost remaining resetAt }\n}\n"


def commit_parents_query(owner: str, name: str, oids: list[str]) -> str:
    """The parents of up to 100 commits of one repository (aliased ``c0``, ``c1`` …)."""
    blocks = "\n".join(
        f"    c{i}: object(oid: {_quote(oid)}) {{ ... on Commit {{ oid "
        f"parents(first: 10) {{ nodes {{ oid }} }} }} }}" for i, oid in enumerate(oids))
    return (f"query CommitParents {{\n  repository(owner: {_quote(owner)}, name: {_quote(name)}) "
            f"{{\n{blocks}\n  }}\n}}\n")


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
