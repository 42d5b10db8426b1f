"""The local full-text index: SQLite FTS5 with BM25 ranking, English and CJK alike.

``build.index_sources`` fills it from files, folders, web pages and sitemaps;
``searchqa.engines.local.LocalEngine`` searches it. ``tokenize`` decides what a term is,
``store`` owns the database, ``snippet`` cuts the text shown with a hit.
"""
