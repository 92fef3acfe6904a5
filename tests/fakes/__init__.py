"""Stand-ins for the outside world (only Google's servers are faked), shared by the tests."""
