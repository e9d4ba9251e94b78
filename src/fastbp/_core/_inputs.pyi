# The first layer's inputs: numeric embeddings and categorical lookups (see _inputs.pyx): cdef kernels only.
