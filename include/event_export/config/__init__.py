"""The export config: its typed model, the YAML reader under it, and which edits are refused."""
