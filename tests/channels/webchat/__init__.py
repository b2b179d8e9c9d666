"""Tests of the web chat channel."""
