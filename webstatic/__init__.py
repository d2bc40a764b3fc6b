"""The static offline site: the Panel web app running on Pyodide, built from pinned registry files."""
