"""The codes of Tonle's own webhook API (a Tonle extension; the shared ones come from the wire catalogue)."""

from __future__ import annotations

from tonle.wire.codes import Code

EVENT_NOT_FOUND = Code("ERR_EVENT_NOT_FOUND", "No such event.", "រកមិនឃើញព្រឹត្តិការណ៍នេះទេ។")
INVALID_URL = Code("ERR_INVALID_WEBHOOK_URL", "", "")
