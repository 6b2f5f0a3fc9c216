"""Pure optical and business rules. Imports nothing from HTTP or storage."""
