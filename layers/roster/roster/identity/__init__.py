"""Identity: alias normalization, resolution of records to profiles, merges."""
