"""The command-line adapter (thin: every command calls services/)."""
