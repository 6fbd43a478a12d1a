"""Mention classifiers: type (complaint, question, ...) and sentiment."""
