"""The three in-chat views and the tools they are bound to; each view is one self-contained HTML page.

A page is assembled from ``static/``: the shared stylesheet, the ext-apps ``App`` bundle
(``ext-apps.js``, built by ``make ui`` from the npm packages pinned in ``ui/package-lock.json``
and committed, so serving needs no npm), the shared view helpers and the view's own script,
all inline: the host renders the page in a sandboxed iframe with no origin to fetch from.

The page's own Content-Security-Policy matches what ``_meta.ui.csp`` asks of the host: no
network at all (every call goes through the host as ``tools/call`` / ``resources/read``),
inline script and style only, images and video as ``data:`` URLs read from ``content://``,
or from the content store's public origin when media are served from S3/R2.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from mcp.server.apps import ResourceCsp

from sf_mcp.config import Settings


@dataclass(frozen=True)
class View:
    name: str  # also the script static/<name>.js
    title: str
    description: str

    @property
    def uri(self) -> str:
        return f"ui://sf-mcp/{self.name}.html"


GENERATION = View("generation", "sf-mcp generation", "A generation's progress, then the image or video, its model, "
                  "payment and contest entry, with buttons for a variation and the full-size file.")
GALLERY = View("gallery", "sf-mcp gallery", "The community gallery: thumbnails with filters, paging and a vote button.")
CONTEST = View("contest", "sf-mcp contest", "The weekly contest: standings, prize pool, time left, your voting power, "
               "finalize and claim.")
VIEWS = (GENERATION, GALLERY, CONTEST)

# Which view renders which tool's result.
BOUND_TOOLS: dict[str, View] = {
    "generate_image": GENERATION,
    "generate_video": GENERATION,
    "get_generation": GENERATION,
    "gallery": GALLERY,
    "leaderboard": CONTEST,
    "contest": CONTEST,
}


def tool_meta(tool: str) -> dict[str, Any] | None:
    """The ``_meta`` that binds ``tool`` to its view (None for a tool without one).

    ``ui.resourceUri`` is the spec's key; ``ui/resourceUri`` is the older flat key some hosts still read.
    """
    view = BOUND_TOOLS.get(tool)
    if view is None:
        return None
    return {"ui": {"resourceUri": view.uri}, "ui/resourceUri": view.uri}


def media_origins(settings: Settings) -> list[str]:
    """Origins the views load media from besides ``data:`` URLs: the content store's public URL, if any."""
    base = settings.storage.s3_public_base_url
    if not base:
        return []
    parts = urlsplit(base)
    return [f"{parts.scheme}://{parts.netloc}"]


def csp(settings: Settings) -> ResourceCsp:
    """``_meta.ui.csp``: no connections, no frames; media only from the content store's public origin."""
    return ResourceCsp(connect_domains=[], resource_domains=media_origins(settings), frame_domains=[],
                       base_uri_domains=[])


def page(view: View, settings: Settings) -> str:
    """The view's HTML document, everything inline."""
    media = " ".join(["data:", *media_origins(settings)])
    policy = (f"default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src {media}; "
              f"media-src {media}; connect-src 'none'; frame-src 'none'; base-uri 'none'; form-action 'none'")
    scripts = "\n".join(f"<script>{_inline(_static(name))}</script>"
                        for name in ("ext-apps.js", "view.js", f"{view.name}.js"))
    return (
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{policy}\">\n"
        f"<title>{view.title}</title>\n<style>{_static('view.css')}</style>\n</head>\n"
        f"<body data-view=\"{view.name}\">\n<main id=\"root\" aria-live=\"polite\"></main>\n{scripts}\n</body>\n</html>\n"
    )


@cache
def _static(name: str) -> str:
    return resources.files("sf_mcp.server.apps").joinpath("static", name).read_text(encoding="utf-8")


def _inline(script: str) -> str:
    """A script safe to put between <script> tags (a closing tag inside would end it early)."""
    if "</script" in script.lower():
        raise ValueError("an inline script contains '</script'")
    return script
