// COpenSSL: the system OpenSSL 3 (libssl, libcrypto) for PostOfficeTLS.
// Swift cannot call C macros or variadic functions, so the ones PostOfficeTLS needs are wrapped below as
// `static inline` functions prefixed `COpenSSL_`.
#ifndef COPENSSL_SHIM_H
#define COPENSSL_SHIM_H

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static inline int COpenSSL_SSL_CTX_set_min_proto_version(SSL_CTX *context, int version) {
    return (int)SSL_CTX_set_min_proto_version(context, version);
}

static inline int COpenSSL_SSL_CTX_set_max_proto_version(SSL_CTX *context, int version) {
    return (int)SSL_CTX_set_max_proto_version(context, version);
}

static inline long COpenSSL_SSL_CTX_set_mode(SSL_CTX *context, long mode) {
    return SSL_CTX_set_mode(context, mode);
}

static inline int COpenSSL_SSL_CTX_set_dh_auto(SSL_CTX *context, int enabled) {
    return (int)SSL_CTX_set_dh_auto(context, enabled);
}

static inline int COpenSSL_SSL_set_tlsext_host_name(SSL *session, const char *name) {
    return (int)SSL_set_tlsext_host_name(session, name);
}

static inline uint64_t COpenSSL_SSL_OP_NO_COMPRESSION(void) { return SSL_OP_NO_COMPRESSION; }
static inline uint64_t COpenSSL_SSL_OP_NO_RENEGOTIATION(void) { return SSL_OP_NO_RENEGOTIATION; }
static inline long COpenSSL_SSL_MODE_ENABLE_PARTIAL_WRITE(void) { return SSL_MODE_ENABLE_PARTIAL_WRITE; }
static inline long COpenSSL_SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER(void) {
    return SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER;
}
static inline long COpenSSL_SSL_MODE_RELEASE_BUFFERS(void) { return SSL_MODE_RELEASE_BUFFERS; }

static inline int COpenSSL_TLS1_VERSION(void) { return TLS1_VERSION; }
static inline int COpenSSL_TLS1_1_VERSION(void) { return TLS1_1_VERSION; }
static inline int COpenSSL_TLS1_2_VERSION(void) { return TLS1_2_VERSION; }
static inline int COpenSSL_TLS1_3_VERSION(void) { return TLS1_3_VERSION; }

static inline long COpenSSL_BIO_set_mem_eof_return(BIO *bio, int value) {
    return BIO_set_mem_eof_return(bio, value);
}

static inline size_t COpenSSL_BIO_pending(BIO *bio) {
    return BIO_ctrl_pending(bio);
}

static inline long COpenSSL_BIO_get_mem_data(BIO *bio, char **data) {
    return BIO_get_mem_data(bio, data);
}

/// EVP_EC_gen is a variadic macro: wrap it for a named curve such as "P-256".
static inline EVP_PKEY *COpenSSL_generate_ec_key(const char *curve) {
    return EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
}

/// EVP_RSA_gen is a variadic macro: wrap it for a key size in bits.
static inline EVP_PKEY *COpenSSL_generate_rsa_key(size_t bits) {
    return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", bits);
}

/// Adds one X.509 v3 extension, in OpenSSL's configuration syntax, to a self-issued certificate.
/// The extension context lives here so Swift never lays out `X509V3_CTX`.
static inline int COpenSSL_X509_add_extension(X509 *certificate, int nid, const char *value) {
    X509V3_CTX context;
    X509V3_set_ctx_nodb(&context);
    X509V3_set_ctx(&context, certificate, certificate, NULL, NULL, 0);
    X509_EXTENSION *extension = X509V3_EXT_conf_nid(NULL, &context, nid, value);
    if (extension == NULL) {
        return 0;
    }
    int added = X509_add_ext(certificate, extension, -1);
    X509_EXTENSION_free(extension);
    return added;
}

/// A PEM pass phrase callback that refuses: an encrypted key fails to load instead of prompting on a terminal.
static inline int COpenSSL_refuse_pass_phrase(char *buffer, int size, int rwflag, void *userdata) {
    (void)buffer; (void)size; (void)rwflag; (void)userdata;
    return -1;
}

static inline EVP_PKEY *COpenSSL_read_private_key(BIO *bio) {
    return PEM_read_bio_PrivateKey(bio, NULL, COpenSSL_refuse_pass_phrase, NULL);
}

#endif
