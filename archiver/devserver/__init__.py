"""Servers for the demo, the tests and the benchmarks: the embedded SeaweedFS S3 server, a
local Redis, the bundled sample news site, and the demo itself.

All bind to 127.0.0.1 and send nothing off the machine. Used by tests, bench/ and `make demo`;
the library never imports it. Its modules are imported by path and re-exported from nowhere:
``s3server``, ``samplesite`` and ``demo`` also run as ``python -m archiver.devserver.NAME``,
which a package that imported them first would run twice.
"""
