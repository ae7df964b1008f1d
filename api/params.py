"""Path and query parameters the API's routes share, and the page a list route answers."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Path, Query
from pydantic import BaseModel, Field

T = TypeVar("T")

# Paging of every list route (a list without paging once answered 20 MiB).
Limit = Annotated[int, Query(ge=1, le=1000, description="Page size")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="Rows to skip")]


class Page(BaseModel, Generic[T]):
    data: list[T]
    count: int = Field(description="Rows matching the filters, over all pages")
    limit: int
    offset: int

# A request id in a path: bounded, so a megabyte of path never reaches the store.
RequestId = Annotated[str, Path(min_length=1, max_length=64)]
