"""Version of the Python package, kept equal to VERSION at the repository root and to include/sattn.h."""

__version__ = "0.2.0"

# The C ABI these ctypes mirrors were written against: (major, minor) of include/sattn.h. A library of the same major
# and an equal or newer minor accepts them (sattn.h: "built against header X.y runs against any library X.z, z >= y").
# 0.2: the exported enum names (sattn_pattern_name, ..._from_name) and sattn_plan_info's plan_bytes and num_spans.
ABI_VERSION = (0, 2)
