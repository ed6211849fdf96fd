"""sf-mcp."""
