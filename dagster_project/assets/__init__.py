"""Assets: one module per library package; each body calls one library function."""
