"""Local stand-ins for external APIs (Stripe, Instagram), each run as its own process.

The real SDK or client reaches a stub over HTTP through its configurable base URL, so
the code under test is the production code. Never shipped to Lambda (not in chalicelib/).
"""
