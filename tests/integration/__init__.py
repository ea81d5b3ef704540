"""Integration tests: real SeaweedFS, Redis, the sample site or other servers on 127.0.0.1."""
