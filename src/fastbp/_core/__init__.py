"""The compiled core of fastbp (Cython). Its modules are imported by the Python layer, never by users."""
