"""The community gallery: everyone's succeeded generations with public fields, their votes, and stable pages.

A cursor is opaque to clients: the next offset, the fixed ``now`` of the first
page (so trending scores do not shift between pages) and a fingerprint of the
filters it belongs to; a cursor for other filters, or a forged one, is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import time
from typing import Any

from pydantic import BaseModel, Field

from sf_mcp.domain.generations import PublicGeneration
from sf_mcp.errors import InvalidRequest
from sf_mcp.store import Store
from sf_mcp.store.gallery import KindFilter, Sort, Timeframe

GALLERY_MAX = 50
SEARCH_MAX = 200


class GalleryItem(PublicGeneration):
    votes: int = Field(description="Wallets that voted for it.")
    points: int = Field(description="Votes weighted by the voters' staked NFTs.")
    trending_score: float = Field(description="votes / (age_hours + 2) ** 1.5 at the time of the first page.")


class Gallery(BaseModel):
    items: list[GalleryItem]
    total: int = Field(description="Generations matching the filters, over all pages.")
    page: int
    limit: int
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page; null on the last.")
    as_of: float = Field(description="Unix seconds the pages are computed at (kept by the cursor).")
    as_of_block: int | None = Field(default=None, description="Votes are counted up to this indexed block.")


async def gallery_page(
    store: Store, *, chain_id: int, timeframe: Timeframe, kind: KindFilter, sort: Sort, staked_only: bool,
    search: str | None, limit: int, cursor: str | None, page: int | None,
) -> Gallery:
    """One page of the gallery, by ``cursor`` (from the previous page) or by page number."""
    filters = {"timeframe": timeframe, "type": kind, "sort": sort, "staked_only": staked_only,
               "search": search, "limit": limit}
    if cursor is not None and page is not None:
        raise InvalidRequest("cursor, page: give one of them, not both")
    if cursor is not None:
        offset, now = _read_cursor(cursor, filters)
    else:
        offset, now = ((page or 1) - 1) * limit, time.time()
    result = await store.gallery.page(
        chain_id=chain_id, timeframe=timeframe, kind=kind, sort=sort,
        staked_only=staked_only, search=search, limit=limit, offset=offset, now=now,
    )
    items = [
        GalleryItem(**PublicGeneration.from_row(e.row).model_dump(), votes=e.votes, points=e.points,
                    trending_score=round(e.trending, 6))
        for e in result.entries
    ]
    after = offset + len(items)
    next_cursor = _make_cursor(after, now, filters) if after < result.total else None
    indexed = await store.read_models.as_of(chain_id)
    return Gallery(items=items, total=result.total, page=offset // limit + 1, limit=limit,
                   next_cursor=next_cursor, as_of=now, as_of_block=indexed.block_number if indexed else None)


def _fingerprint(filters: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(filters, sort_keys=True).encode()).hexdigest()[:12]


def _make_cursor(offset: int, now: float, filters: dict[str, Any]) -> str:
    """Opaque to clients: the next offset, the fixed `now` of the first page and the filters it belongs to."""
    raw = json.dumps({"o": offset, "n": now, "f": _fingerprint(filters)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


MAX_GALLERY_OFFSET = 1_000_000  # far past any real gallery; keeps a forged cursor out of SQLite's int range


def _read_cursor(cursor: str, filters: dict[str, Any]) -> tuple[int, float]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        offset, now, fingerprint = int(data["o"]), float(data["n"]), str(data["f"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InvalidRequest("cursor: not a cursor this server issued; use next_cursor from a gallery answer") from None
    if fingerprint != _fingerprint(filters):
        raise InvalidRequest("cursor: it belongs to other filters; repeat the first call's filters, or drop the cursor")
    if not 0 <= offset <= MAX_GALLERY_OFFSET or not math.isfinite(now):
        raise InvalidRequest("cursor: not a cursor this server issued; use next_cursor from a gallery answer")
    return offset, now
