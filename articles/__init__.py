"""Article data files (one TOML file per article); installed as the package vhdfix.articles_data."""
