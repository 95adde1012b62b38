"""Package data: the class tables, the built-in model and zoo records and the release record (JSON and
text files read with ``importlib.resources.files("bgbench.resources")``)."""
