"""Tonle: a self-hostable payment gateway that speaks the Bill24 merchant APIs."""

__version__ = "0.1.0"
