"""The sample domain: an IoT / cybersecurity platform (devices, connections, calls)."""
