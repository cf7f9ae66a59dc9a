"""A KHQR payload drawn as a QR code image people scan: PNG (to save) or SVG (to show sharp at any size)."""

from __future__ import annotations

import io

import segno

FORMATS = {"png": "image/png", "svg": "image/svg+xml"}


def render(payload: str, fmt: str) -> bytes:
    """``fmt`` is a key of FORMATS. Error correction M, a quiet zone of four modules, as the NBC's samples."""
    code = segno.make(payload, error="m")
    out = io.BytesIO()
    if fmt == "png":
        code.save(out, kind="png", scale=8, border=4)
    else:
        code.save(out, kind="svg", scale=6, border=4, xmldecl=False)
    return out.getvalue()
