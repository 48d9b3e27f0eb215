// CCrypt: libcrypt (libxcrypt) for verifying and making password hashes ({SHA512-CRYPT}, {BLF-CRYPT}).
#include <crypt.h>
