"""Sphinx configuration of the Python API reference (built offline: `sphinx-build -W docs/reference OUT`)."""

project = "bgbench"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True}
autodoc_mock_imports: list[str] = []
html_theme = "alabaster"
exclude_patterns = ["_build"]
suppress_warnings = ["ref.python"]  # cross-references to torch/numpy types cannot resolve offline
