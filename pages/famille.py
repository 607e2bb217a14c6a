"""An RCP family's RCPs (?id=family)."""

from rcp.ui import directory_views

directory_views.run_level(directory_views.rcps_level)
