"""The release sign-off: the model of a run's results, the verdict per image, the baseline
comparison, and the HTML, Markdown, JSON and JUnit renderings (plugin.py collects them)."""
