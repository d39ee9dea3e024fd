/* SPDX-License-Identifier: ISC */
/*
 * tls.c - OpenSSL setup shared by tcpxd and tcpx.  Handshakes run on a
 * socket switched to non-blocking for the duration, so that one deadline
 * bounds the whole handshake: a peer trickling bytes cannot hold a thread
 * longer than that, as an idle timeout that every byte restarts would let it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "io/sys.h"
#include "io/tls.h"

/* Socket reads of this much: a few records, cheap next to a 256 KiB buffer_size. */
#define TLS_READ_BUFFER (64 * 1024)

/* Never prompt on a terminal for a key's passphrase: an encrypted key is an error. */
static int
no_passphrase(char *buf, int size, int rwflag, void *userdata)
{
	(void)buf; (void)size; (void)rwflag; (void)userdata;
	return -1;
}

/* The oldest queued OpenSSL reason, or fallback; clears the thread's queue. */
static const char *
openssl_reason(const char *fallback)
{
	unsigned long e = ERR_get_error();
	const char *r = e == 0 ? NULL : ERR_GET_LIB(e) == ERR_LIB_SYS ? strerror(ERR_GET_REASON(e)) :
	    ERR_reason_error_string(e);

	ERR_clear_error();
	return r != NULL ? r : fallback;
}

static SSL_CTX *
ctx_new(const SSL_METHOD *method, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(method);

	if (ctx == NULL) {
		snprintf(err, errlen, "cannot create a TLS context: %s", openssl_reason("out of memory"));
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		snprintf(err, errlen, "cannot require TLS 1.2: %s", openssl_reason("unknown error"));
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* Read several records per recv() (netio.c takes them all at once). */
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_set_default_read_buffer_len(ctx, TLS_READ_BUFFER);
	SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
	return ctx;
}

/*
 * What is wrong with a key file OpenSSL could not load, when its PEM
 * headers tell: OpenSSL's own reasons ("interrupted or cancelled" for an
 * encrypted key, "unsupported" for a file without a key) do not say.
 * NULL when the headers look right or the file cannot be read.
 */
static const char *
key_file_problem(const char *key)
{
	bool encrypted = false, has_key = false;
	char line[256];
	FILE *fp = fopen(key, "re");

	if (fp == NULL)
		return NULL;
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (strncmp(line, "-----BEGIN ", 11) == 0 && strstr(line, "PRIVATE KEY-----") != NULL)
			has_key = true;
		if (strncmp(line, "-----BEGIN ENCRYPTED PRIVATE KEY-----", 37) == 0 ||
		    strncmp(line, "Proc-Type: 4,ENCRYPTED", 22) == 0)
			encrypted = true;
	}
	fclose(fp);
	if (encrypted)
		return "encrypted";
	return has_key ? NULL : "missing";
}

/*
 * A certificate chain and its key; prefix starts each message ("tls " in
 * the daemon's), program names who needs the key.  key_in_certificate:
 * no key file was given, the key is looked for in the certificate's file.
 */
static int
load_key_pair(SSL_CTX *ctx, const char *certificate, const char *key, bool key_in_certificate,
    const char *prefix, const char *program, char *err, size_t errlen)
{
	ERR_clear_error();
	if (SSL_CTX_use_certificate_chain_file(ctx, certificate) != 1) {
		snprintf(err, errlen, "%scertificate %s: %s", prefix, certificate,
		    openssl_reason("cannot load"));
		return -1;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		const char *problem = key_file_problem(key);

		if (problem != NULL && strcmp(problem, "encrypted") == 0)
			snprintf(err, errlen, "%skey %s is encrypted: %s needs an unencrypted key "
			    "(openssl pkey -in %s -out plain.pem writes one)", prefix, key, program, key);
		else if (problem != NULL && key_in_certificate)
			snprintf(err, errlen, "%scertificate %s holds no private key: give the key file "
			    "too", prefix, certificate);
		else if (problem != NULL)
			snprintf(err, errlen, "%skey %s holds no private key (no \"-----BEGIN ... "
			    "PRIVATE KEY-----\" block)", prefix, key);
		else
			snprintf(err, errlen, "%skey %s: %s", prefix, key, openssl_reason("cannot load"));
		ERR_clear_error();
		return -1;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "%skey %s does not match certificate %s: %s", prefix, key,
		    certificate, openssl_reason("mismatch"));
		return -1;
	}
	return 0;
}

SSL_CTX *
tls_server_ctx(const struct tls_cfg *t, char *err, size_t errlen)
{
	SSL_CTX *ctx = ctx_new(TLS_server_method(), err, errlen);

	if (ctx == NULL)
		return NULL;
	if (load_key_pair(ctx, t->certificate, t->key, false, "tls ", "tcpxd", err, errlen) < 0)
		goto fail;
	if (t->verify_client) {
		STACK_OF(X509_NAME) *names;

		if (SSL_CTX_load_verify_locations(ctx, t->ca, NULL) != 1 ||
		    (names = SSL_load_client_CA_file(t->ca)) == NULL) {
			snprintf(err, errlen, "tls ca %s: %s", t->ca, openssl_reason("cannot load"));
			goto fail;
		}
		SSL_CTX_set_client_CA_list(ctx, names);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
		/* OpenSSL refuses to resume a verified session without one. */
		if (SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"tcpxd", 5) != 1) {
			snprintf(err, errlen, "tls: %s", openssl_reason("cannot set a session context"));
			goto fail;
		}
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

SSL_CTX *
tls_client_ctx(const struct tls_client_opts *o, char *err, size_t errlen)
{
	SSL_CTX *ctx = ctx_new(TLS_client_method(), err, errlen);

	if (ctx == NULL)
		return NULL;
	if (o->certificate != NULL &&
	    load_key_pair(ctx, o->certificate, o->key ? o->key : o->certificate, o->key == NULL, "",
	    "tcpx", err, errlen) < 0)
		goto fail;
	ERR_clear_error();
	if (o->insecure) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return ctx;
	}
	if (o->ca != NULL ? SSL_CTX_load_verify_locations(ctx, o->ca, NULL) != 1 :
	    SSL_CTX_set_default_verify_paths(ctx) != 1) {
		snprintf(err, errlen, "CA %s: %s", o->ca ? o->ca : "(system default)",
		    openssl_reason("cannot load"));
		goto fail;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* Why a handshake step failed, in one line. */
static void
handshake_error(SSL *ssl, int rc, int saved_errno, char *err, size_t errlen)
{
	int kind = SSL_get_error(ssl, rc);
	long verify = SSL_get_verify_result(ssl);
	unsigned long e = ERR_peek_error();

	/* Without verification (tcpx --insecure) a recorded result is not why it failed. */
	if (SSL_get_verify_mode(ssl) != SSL_VERIFY_NONE && verify != X509_V_OK)
		snprintf(err, errlen, "certificate verification failed: %s",
		    X509_verify_cert_error_string(verify));
	else if (kind == SSL_ERROR_SSL && e != 0)
		snprintf(err, errlen, "%s", openssl_reason("handshake failed"));
	else if (kind == SSL_ERROR_SYSCALL && saved_errno != 0)
		snprintf(err, errlen, "%s", strerror(saved_errno));
	else
		snprintf(err, errlen, "peer closed the connection during the handshake");
	ERR_clear_error();
}

/* Where the verify callback leaves the subject of the certificate it saw. */
struct subject_sink {
	char *buf;
	size_t len;
};

static void
name_text(const X509_NAME *name, char *buf, size_t len)
{
	BIO *mem = BIO_new(BIO_s_mem());
	char *text;
	long n;

	buf[0] = '\0';
	if (mem != NULL && X509_NAME_print_ex(mem, name, 0, XN_FLAG_RFC2253) >= 0 &&
	    (n = BIO_get_mem_data(mem, &text)) > 0)
		snprintf(buf, len, "%.*s", (int)n, text);
	BIO_free(mem);
}

/*
 * OpenSSL keeps the client's certificate only once it is verified; a
 * handshake refused for an unknown CA would otherwise name no one.
 */
static int
remember_subject(int ok, X509_STORE_CTX *store)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct subject_sink *sink = ssl != NULL ? SSL_get_app_data(ssl) : NULL;
	X509 *leaf = X509_STORE_CTX_get0_cert(store);

	if (sink != NULL && leaf != NULL && sink->buf[0] == '\0')
		name_text(X509_get_subject_name(leaf), sink->buf, sink->len);
	return ok;
}

/* On success: a resumed session has no verify callback, but keeps the certificate. */
static void
peer_subject(SSL *ssl, struct subject_sink *sink)
{
	X509 *cert;

	if (sink->buf[0] != '\0' || (cert = SSL_get1_peer_certificate(ssl)) == NULL)
		return;
	name_text(X509_get_subject_name(cert), sink->buf, sink->len);
	X509_free(cert);
}

static SSL *
handshake(SSL_CTX *ctx, int fd, const char *host, long long deadline_ms,
    struct subject_sink *sink, char *err, size_t errlen)
{
	int flags = fcntl(fd, F_GETFL);
	bool server = sink != NULL;
	SSL *ssl = NULL;

	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		snprintf(err, errlen, "fcntl: %s", strerror(errno));
		return NULL;
	}
	ERR_clear_error();
	if ((ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, fd) != 1) {
		snprintf(err, errlen, "cannot start TLS: %s", openssl_reason("out of memory"));
		goto fail;
	}
	if (server && SSL_get_verify_mode(ssl) != SSL_VERIFY_NONE) {
		sink->buf[0] = '\0';
		SSL_set_app_data(ssl, sink);
		SSL_set_verify(ssl, SSL_get_verify_mode(ssl), remember_subject);
	}
	if (host != NULL) {
		unsigned char ip[sizeof(struct in6_addr)];
		bool numeric = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
		X509_VERIFY_PARAM *param = SSL_get0_param(ssl);

		if ((!numeric && (SSL_set_tlsext_host_name(ssl, host) != 1 ||
		    X509_VERIFY_PARAM_set1_host(param, host, 0) != 1)) ||
		    (numeric && X509_VERIFY_PARAM_set1_ip_asc(param, host) != 1)) {
			snprintf(err, errlen, "cannot set the expected host name %s", host);
			goto fail;
		}
	}
	for (;;) {
		int rc, kind, saved_errno;
		short events;

		errno = 0;
		rc = server ? SSL_accept(ssl) : SSL_connect(ssl);
		saved_errno = errno;
		if (rc == 1)
			break;
		kind = SSL_get_error(ssl, rc);
		if (kind == SSL_ERROR_WANT_READ)
			events = POLLIN;
		else if (kind == SSL_ERROR_WANT_WRITE)
			events = POLLOUT;
		else {
			handshake_error(ssl, rc, saved_errno, err, errlen);
			goto fail;
		}
		if ((rc = sys_wait(fd, events, deadline_ms)) == 0) {
			snprintf(err, errlen, "handshake timeout");
			goto fail;
		}
		if (rc < 0) {
			snprintf(err, errlen, "poll: %s", strerror(errno));
			goto fail;
		}
	}
	if (!server && fcntl(fd, F_SETFL, flags) < 0) {
		snprintf(err, errlen, "fcntl: %s", strerror(errno));
		goto fail;
	}
	if (server) {
		SSL_set_app_data(ssl, NULL);    /* sink lives on our caller's stack */
		peer_subject(ssl, sink);
	}
	return ssl;
fail:
	SSL_free(ssl);
	/* Best effort: the caller closes the socket after a failed handshake. */
	(void)fcntl(fd, F_SETFL, flags);
	return NULL;
}

SSL *
tls_accept(SSL_CTX *ctx, int fd, long long deadline_ms, char *subject, size_t subject_len,
    char *err, size_t errlen)
{
	struct subject_sink sink = { subject, subject_len };

	subject[0] = '\0';
	return handshake(ctx, fd, NULL, deadline_ms, &sink, err, errlen);
}

SSL *
tls_connect(SSL_CTX *ctx, int fd, const char *host, long long deadline_ms, char *err,
    size_t errlen)
{
	return handshake(ctx, fd, host, deadline_ms, NULL, err, errlen);
}

/* A SAN entry of a kind a certificate name in tcpxd.conf can give, equal to name. */
static bool
san_is(const GENERAL_NAME *g, const char *name)
{
	const ASN1_IA5STRING *s;
	size_t len = strlen(name);

	switch (g->type) {
	case GEN_DNS:
	case GEN_EMAIL:
	case GEN_URI:
		s = g->d.ia5;
		break;
	default:
		return false;
	}
	/* An embedded NUL must not let "a.example\0.evil" pass for "a.example". */
	if (s == NULL || (size_t)ASN1_STRING_length(s) != len ||
	    memchr(ASN1_STRING_get0_data(s), '\0', len) != NULL)
		return false;
	/* DNS names and the domain of an address compare without case; simply all of them. */
	return strncasecmp((const char *)ASN1_STRING_get0_data(s), name, len) == 0;
}

bool
tls_peer_name_is(SSL *ssl, const char *name)
{
	GENERAL_NAMES *sans;
	char subject[1024];
	X509 *cert;
	bool match = false;

	if (ssl == NULL || SSL_get_verify_mode(ssl) == SSL_VERIFY_NONE ||
	    SSL_get_verify_result(ssl) != X509_V_OK || (cert = SSL_get1_peer_certificate(ssl)) == NULL)
		return false;
	name_text(X509_get_subject_name(cert), subject, sizeof(subject));
	match = subject[0] != '\0' && strcmp(subject, name) == 0;
	sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; !match && sans != NULL && i < sk_GENERAL_NAME_num(sans); i++)
		match = san_is(sk_GENERAL_NAME_value(sans, i), name);
	GENERAL_NAMES_free(sans);
	X509_free(cert);
	return match;
}
