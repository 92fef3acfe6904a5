"""Delivery: what the server and the speaker-cluster agent share.

``orders`` defines the signed play order (Ed25519 over canonical JSON), the reports and
heartbeats an agent sends back and their HMAC authentication; ``keys`` keeps the server's
signing key pair. Both sides import these modules; neither side imports the other.
"""
