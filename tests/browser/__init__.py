"""Helpers for the headless-Chromium tests of the web page (``tests/test_app_browser.py``)."""
