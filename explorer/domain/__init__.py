"""The domain: pure deciders (no Qt, no SQL, no clock) and the domain packs that name them."""
