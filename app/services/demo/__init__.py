"""The demo program `laurel serve --demo` loads into an empty database, through the services."""
