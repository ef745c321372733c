"""The HTTP server's pieces that every HTTP interface shares: authentication (``auth``), the
process state (``state``), the investigation worker, the alarm intake's group commit, error
rendering and the security middleware. The REST API (:mod:`shipwise.api`), the web pages
(:mod:`shipwise.web`) and MCP over HTTP (:mod:`shipwise.mcp`) import these; the composition root
(:mod:`shipwise.server`) mounts those interfaces. Nothing here imports an interface."""
