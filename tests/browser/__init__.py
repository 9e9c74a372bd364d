"""Browser tests: real JupyterLab 4 and Notebook 7 in Debian's Chromium, driven by Playwright."""
