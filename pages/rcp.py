"""RCP tab: the networks (filières); each level below has its own page and URL."""

from rcp.ui import directory_views

directory_views.run_level(directory_views.networks_level, needs_id=False)
