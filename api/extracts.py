"""The HTTP answer carrying an extract package (API route and portal page alike)."""

from __future__ import annotations

from fastapi.responses import FileResponse

from services.data_request import Package


def package_response(request_id: str, package: Package) -> FileResponse:
    return FileResponse(package.path, media_type="application/octet-stream",
                        filename=f"{request_id}.c2cx", headers={"X-SHA256": package.sha256})
