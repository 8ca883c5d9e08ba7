"""Pure data: imports nothing of the project outside ``models`` and no I/O library."""
