"""Shipped defaults as data: the gazetteer, the event lexicon, watches, an example config."""

from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parent
