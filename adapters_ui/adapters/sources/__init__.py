"""Where adapters come from besides a typed path: known folders, an uploaded zip, a Hub repo.

Each source ends in an ordinary adapter folder that ``Session.attach`` validates, so the checks live in one place:
``folders`` (the demo set and listed folders), ``zips`` (untrusted uploads, unpacked safely), ``hub`` (downloads),
``uploads`` (what visitors left on the server, and deleting it), ``shown`` (what a visitor sees of the server).
The names below are the ones callers use: ``from adapters_ui.adapters.sources import attach_zip``.
"""

from adapters_ui.adapters.sources.folders import CONFIG_FILE, adapter_folder_choices, adapter_name
from adapters_ui.adapters.sources.hub import HUB_FILES, OFFLINE_MESSAGE, attach_hub, check_repo_id, download_hub_adapter, hub_root
from adapters_ui.adapters.sources.shown import os_reason, shown_as, shown_path
from adapters_ui.adapters.sources.uploads import (
    clear_stale_uploads,
    is_visitor_upload,
    remove_upload,
    remove_visitor_upload,
    uploads_root,
)
from adapters_ui.adapters.sources.zips import (
    MAX_ZIP_ENTRIES,
    ZIP_ALLOWANCE_BYTES,
    attach_zip,
    extract_adapter_zip,
    extract_bundle_zip,
)

__all__ = [
    "CONFIG_FILE", "HUB_FILES", "MAX_ZIP_ENTRIES", "OFFLINE_MESSAGE", "ZIP_ALLOWANCE_BYTES", "adapter_folder_choices",
    "adapter_name", "attach_hub", "attach_zip", "check_repo_id", "clear_stale_uploads", "download_hub_adapter",
    "extract_adapter_zip", "extract_bundle_zip", "hub_root", "is_visitor_upload", "os_reason", "remove_upload",
    "remove_visitor_upload", "shown_as", "shown_path", "uploads_root",
]
