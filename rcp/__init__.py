"""RCP platform: the domain (services, models), independent of Streamlit but for rcp/ui."""
