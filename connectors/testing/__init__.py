"""Local stand-ins for the providers' APIs, served on 127.0.0.1.

They answer in the providers' documented shapes (paging, errors, throttling) from collections
of provider-shaped items, so the demo, the tests and the benchmark run the *real* connector code
over real HTTP. They never reach beyond loopback.
"""
