/*
 * libcurl, loaded at run time by the processes that make HTTP requests.
 *
 * Linked normally, libcurl and what it pulls in (TLS, HTTP/2, IDN, LDAP,
 * Kerberos...) cost every process of the one nymd binary about 6 MiB of
 * resident memory and 1 MiB of private dirty pages at start, though only
 * netd (and `nymd init`) ever make a request. http.c calls libcurl only
 * through this table, which curlfn_load() fills with dlopen() before the
 * sandbox.
 */
#ifndef NYMD_COMMON_CURLFN_H
#define NYMD_COMMON_CURLFN_H

#ifdef CURLFN_TYPECHECK
/*
 * A compile-only build of http.c (make check, libcurltypecheck.la) calls
 * libcurl by name, so that curl's typecheck-gcc.h checks the argument of
 * every curl_easy_setopt(), which calls through a pointer cannot have.
 */
#include <curl/curl.h>
#define CURLFN(f)	curl_##f
#else
#define CURL_DISABLE_TYPECHECK 1	/* the calls go through pointers */
#include <curl/curl.h>
#define CURLFN(f)	curlfn.f
#endif

struct curlfn {
	CURLcode	 (*global_init)(long);
	void		 (*global_cleanup)(void);
	CURL		*(*easy_init)(void);
	void		 (*easy_cleanup)(CURL *);
	CURLcode	 (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode	 (*easy_getinfo)(CURL *, CURLINFO, ...);
	CURLcode	 (*easy_perform)(CURL *);
	const char	*(*easy_strerror)(CURLcode);
	CURLM		*(*multi_init)(void);
	CURLMcode	 (*multi_cleanup)(CURLM *);
	CURLMcode	 (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode	 (*multi_remove_handle)(CURLM *, CURL *);
	CURLMcode	 (*multi_setopt)(CURLM *, CURLMoption, ...);
	CURLMcode	 (*multi_assign)(CURLM *, curl_socket_t, void *);
	CURLMcode	 (*multi_socket_action)(CURLM *, curl_socket_t, int, int *);
	CURLMsg		*(*multi_info_read)(CURLM *, int *);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void		 (*slist_free_all)(struct curl_slist *);
};

extern struct curlfn curlfn;

/* Loads libcurl once per process; 0, or -1 with the reason in err. */
int	curlfn_load(char *err, size_t errlen);

#endif
