"""Reports: one versioned report model built from the store, rendered to HTML, JSON, CSV, XLSX."""
