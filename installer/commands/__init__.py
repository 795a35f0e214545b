"""One module per CLI command; `installer.cli` registers them."""
