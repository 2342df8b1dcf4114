"""`make demo`: the main job on the local stack, told as a story with figures."""
