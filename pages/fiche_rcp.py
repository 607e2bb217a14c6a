"""An RCP: coordinators, meetings upcoming and past, and its coordinators' tools (?id=rcp)."""

from rcp.ui import directory_views

directory_views.run_level(directory_views.rcp_level)
