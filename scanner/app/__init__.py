"""The application: command line, config files, the scan pipeline, operations."""
