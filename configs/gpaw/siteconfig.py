# GPAW build configuration for the serial (no-MPI) build used by `make gpaw`.
#
# GPAW >= 26 compiles its C sources as C++17; without an MPI compiler wrapper it would fall
# back to gcc, so name g++ here. Link Debian's libxc, FFTW and OpenBLAS (apt packages
# libxc-dev libfftw3-dev libopenblas-dev); listing openblas is required, otherwise GPAW
# builds without a native BLAS. `make gpaw` passes this file as GPAW_CONFIG.
# flake8: noqa
compiler = 'g++'
mpi = False
fftw = True
scalapack = False
libraries += ['fftw3', 'openblas']
