"""Privacy and governance: pseudonyms, bots, charter, access policy."""
