"""Modal panels: help, the overview and the export dialog."""
