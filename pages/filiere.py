"""A network's RCP families (?id=network)."""

from rcp.ui import directory_views

directory_views.run_level(directory_views.families_level)
