"""What users touch: the Python API, the HTTP API and its web page."""
