"""End-to-end tests: crawls (scrapy crawl, archiver crawl, the demo, benchmarks), browsers."""
