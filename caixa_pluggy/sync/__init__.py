"""The plain machinery of a Pluggy sync (no model): what to read, how rows become lines, the numbers."""
