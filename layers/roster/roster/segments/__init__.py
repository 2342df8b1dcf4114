"""Live audiences: filters, their compiler and membership."""
