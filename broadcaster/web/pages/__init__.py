"""The officers' pages, one module per group of pages."""
