# The layers of an ensemble of k members (see _members.pyx): cdef kernels only, nothing for Python.
