"""One module per ``isometry`` sub-command (see :mod:`isometry.cli`)."""
