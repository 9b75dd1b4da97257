"""Registry hives: transaction-log recovery and value lookups on offline hives."""
