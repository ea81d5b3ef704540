"""One module per `archiver` subcommand; each exposes a click command named `command`."""
