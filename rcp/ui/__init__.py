"""Streamlit glue shared by the pages (the only part of rcp/ that imports streamlit)."""
