"""sf-mcp."""

from importlib.metadata import PackageNotFoundError, version


def package_version() -> str:
    """The installed distribution's version (shown by ``sf-mcp --version`` and sent to MCP clients)."""
    try:
        return version("sf-mcp")
    except PackageNotFoundError:
        return "0.0.0"
