# No Python-level functions: the losses are cdef functions used by _network and _epoch.
